# Unit tests of the elb module (signers, providers, transport).
cs_unit_test(test_elb_sign SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_elb_sign.c LIBS elb_sign)
if(TARGET elb_provider)
  cs_unit_test(test_elb_provider SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_elb_provider.c
               LIBS elb_provider PkgConfig::MHD LABELS threaded TIMEOUT 60)
  # the scripted-server tables name only the fields each step needs
  target_compile_options(test_elb_provider PRIVATE -Wno-missing-field-initializers)
endif()
if(TARGET elb-certsync)
  cs_unit_test(test_elb_api SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_elb_api.c
               LIBS cs_common TIMEOUT 60)
  add_dependencies(test_elb_api elb-certsync)
endif()
