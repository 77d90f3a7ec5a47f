# Fuzz targets of the elb module: each provider's response parsers.
if(TARGET elb_provider)
  cs_fuzz_target(fuzz_elb_huawei SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_elb_huawei.c
                 LIBS elb_provider CORPUS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/elb_huawei)
  cs_fuzz_target(fuzz_elb_ucloud SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_elb_ucloud.c
                 LIBS elb_provider CORPUS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/elb_ucloud)
endif()
