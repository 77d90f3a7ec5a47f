# The ELB clients against the real fake-elb binary (bounded: every wait has a limit).
if(TARGET fake-elb AND TARGET fake_elb_testlib AND TARGET elb-certsync)
  add_executable(test_elb_fake ${CMAKE_SOURCE_DIR}/tests/integration/test_elb_fake.c)
  set_target_properties(test_elb_fake PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(test_elb_fake PRIVATE elb_provider fake_elb_testlib PkgConfig::CMOCKA)
  add_dependencies(test_elb_fake fake-elb elb-certsync)
  add_test(NAME test_elb_fake
           COMMAND test_elb_fake $<TARGET_FILE:fake-elb> $<TARGET_FILE:elb-certsync>)
  set_tests_properties(test_elb_fake PROPERTIES LABELS "integration" TIMEOUT 120)
endif()
