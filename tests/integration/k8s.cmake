# Integration tests of the k8s client against the fake-kube-apiserver binary (TLS, token,
# dropped watches, compaction, fault storms, leader election).
if(TARGET k8s_client AND TARGET fake-kube-apiserver)
  add_executable(test_k8s_fake ${CMAKE_SOURCE_DIR}/tests/integration/test_k8s_fake.c)
  set_target_properties(test_k8s_fake PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(test_k8s_fake PRIVATE k8s_client PkgConfig::CMOCKA)
  add_dependencies(test_k8s_fake fake-kube-apiserver)
  add_test(NAME test_k8s_fake COMMAND test_k8s_fake $<TARGET_FILE:fake-kube-apiserver>)
  set_tests_properties(test_k8s_fake PROPERTIES LABELS "integration;threaded" TIMEOUT 180)
endif()
