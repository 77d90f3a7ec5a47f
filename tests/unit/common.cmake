cs_unit_test(test_common SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_common.c LIBS cs_common)
cs_unit_test(test_http SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_http.c
             LIBS cs_common PkgConfig::MHD LABELS threaded)
