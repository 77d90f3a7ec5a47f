# fake-elb: the loopback emulator of Huawei Cloud ELB v3 and UCloud ULB (tests/fakes/elb/), its
# unit tests, integration test and fuzz target. It verifies signatures with the project's own
# signers, so everything here needs the elb_sign library.
if(TARGET elb_sign)
  set(FAKE_ELB_DIR ${CMAKE_SOURCE_DIR}/tests/fakes/elb)
  add_library(fake_elb_core STATIC
              ${FAKE_ELB_DIR}/params.c ${FAKE_ELB_DIR}/pem.c ${FAKE_ELB_DIR}/faults.c
              ${FAKE_ELB_DIR}/state.c ${FAKE_ELB_DIR}/huawei_api.c ${FAKE_ELB_DIR}/ucloud_api.c
              ${FAKE_ELB_DIR}/server.c)
  target_link_libraries(fake_elb_core PUBLIC elb_sign cs_common OpenSSL::Crypto PkgConfig::CJSON
                        Threads::Threads m)

  add_executable(fake-elb ${FAKE_ELB_DIR}/main.c)
  set_target_properties(fake-elb PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
  target_link_libraries(fake-elb PRIVATE fake_elb_core PkgConfig::MHD)

  # Test helpers: certificates made at run time, seeds, signed requests.
  add_library(fake_elb_testlib STATIC ${FAKE_ELB_DIR}/testlib.c)
  target_link_libraries(fake_elb_testlib PUBLIC fake_elb_core)

  # Figures, not a test: tests/fakes/elb/bench.c.
  add_executable(fake-elb-bench ${FAKE_ELB_DIR}/bench.c)
  set_target_properties(fake-elb-bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(fake-elb-bench PRIVATE fake_elb_testlib)

  set(FAKE_ELB_UNIT_TESTS pem api_huawei api_ucloud control)
  foreach(t ${FAKE_ELB_UNIT_TESTS})
    if(EXISTS ${CMAKE_SOURCE_DIR}/tests/unit/test_fake_elb_${t}.c)
      cs_unit_test(test_fake_elb_${t} SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_fake_elb_${t}.c
                   LIBS fake_elb_testlib LABELS threaded TIMEOUT 60)
    endif()
  endforeach()
endif()

if(TARGET fake_elb_testlib AND EXISTS ${CMAKE_SOURCE_DIR}/tests/integration/test_fake_elb_integration.c)
  # The binary over HTTP on 127.0.0.1 (bounded: every wait in it has a limit).
  add_executable(test_fake_elb_integration
                 ${CMAKE_SOURCE_DIR}/tests/integration/test_fake_elb_integration.c)
  set_target_properties(test_fake_elb_integration PROPERTIES
                        RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(test_fake_elb_integration PRIVATE fake_elb_testlib PkgConfig::CMOCKA)
  add_dependencies(test_fake_elb_integration fake-elb)
  add_test(NAME test_fake_elb_integration
           COMMAND test_fake_elb_integration $<TARGET_FILE:fake-elb>)
  set_tests_properties(test_fake_elb_integration PROPERTIES LABELS "integration" TIMEOUT 60)
endif()

if(TARGET fake_elb_testlib)
  cs_fuzz_target(fuzz_fake_elb_request SOURCES ${CMAKE_SOURCE_DIR}/tests/fakes/elb/fuzz_request.c
                 LIBS fake_elb_testlib CORPUS ${CMAKE_SOURCE_DIR}/tests/fakes/elb/fuzz-corpus)
endif()
