"""Models: ResNet streams, CMMP message passing, CMA attention."""
