"""Rawframes for mmaction2 in denseflow's layout: per video, frame and flow JPEGs, plus the file lists.

``out/<video id>/`` holds (numbers 1-based, 5 digits; mmaction2's ``RawframeDataset`` reads from
``start_index=1``):

* ``img_00001.jpg ... img_<T>.jpg``: the T decoded frames (colour JPEG);
* ``flow_x_<n>.jpg``, ``flow_y_<n>.jpg``: greyscale JPEGs of the flow from frame n to frame n + step,
  T - step of each (step 1: one per frame pair); other steps are named as denseflow names them
  (``flow_x_p2_<n>`` for step 2, ``flow_x_m1_<n>`` for step -1, the flow from frame n back to n - 1);
  step 0 writes frames only;
* ``.done``: the recipe, counts and the positions of the source frames that did not decode (``frames_dropped``,
  0-based; the frames that decode are numbered without gaps), written last.

Flow JPEGs hold the shards' quantisation (``twostream.data.shards.quantize_flow``): clipped to +-bound,
q = round(127 v / bound) + 128. denseflow (open-mmlab/denseflow, ``convertFlowToImage``) maps
round(255 (v + bound) / (2 bound)): zero is 128 in both and they differ by at most one grey level
(-bound is 0 there, 1 here). Other differences from denseflow: it numbers from 0 (``img_00000``, the
off-by-one mmaction2 users meet with ``start_index=1``); frames shrunk on decode use ``INTER_AREA`` (as
the shards' frames) where denseflow resizes bilinearly. The resize rules are denseflow's (``resize``).

Modules: ``naming`` (the file names), ``resize`` (denseflow's resize options), ``sources`` (the videos
to export), ``writer`` (one video's folder), ``export`` (many videos), ``lists`` (mmaction2's file lists);
reading rawframes back (any tool's, docs/rawframes.md): ``templates`` (mmaction2's ``filename_tmpl``
syntax, detected from the files), ``reader`` (one folder, its defects explained), ``catalog`` (a tree's
manifest from a dataset's split definition), ``importer`` (folders packed into shards).
"""
