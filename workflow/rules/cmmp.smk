# CMMP (cross-modal message passing): stage 2 variants, their scores, Table 1 and Table 2.


def cmmp_targets():
    return []
