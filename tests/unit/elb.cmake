# Unit tests of the elb module (signers, providers, transport).
cs_unit_test(test_elb_sign SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_elb_sign.c LIBS elb_sign)
