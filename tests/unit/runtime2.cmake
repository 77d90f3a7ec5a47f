# tests/unit/runtime2.cmake -- unit tests of the controller runtime's objects (Kubernetes JSON
# to the model), per-region provider cache, and listener-key parsing (ctl_run).
if(TARGET ctl_run)
  cs_unit_test(test_objects SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_objects.c
               ${CMAKE_SOURCE_DIR}/tests/unit/test_ctl_support.c LIBS ctl_run)
  if(EXISTS ${CMAKE_SOURCE_DIR}/tests/unit/test_pcache.c)
    cs_unit_test(test_pcache SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_pcache.c LIBS ctl_run
                 LABELS threaded)
  endif()
  cs_unit_test(test_reconcile_key SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_reconcile_key.c
               LIBS ctl_run)
endif()
# The provider cache's benchmark (not a test: it prints figures): test_pcache.c built with
# PCACHE_BENCH. Run build-*/tests/bench_pcache.
if(TARGET ctl_run AND EXISTS ${CMAKE_SOURCE_DIR}/tests/unit/test_pcache.c)
  add_executable(bench_pcache ${CMAKE_SOURCE_DIR}/tests/unit/test_pcache.c)
  set_target_properties(bench_pcache PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_compile_definitions(bench_pcache PRIVATE PCACHE_BENCH)
  target_compile_options(bench_pcache PRIVATE -Wno-unused-function)
  target_link_libraries(bench_pcache PRIVATE ctl_run PkgConfig::CMOCKA)
endif()
