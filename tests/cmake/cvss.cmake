# CVSS vectors (libbf/cvss.c, libbf/cvss4.c) and bountyfleet-cvss.
bf_unit_test(cvss)
