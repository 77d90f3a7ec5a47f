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
