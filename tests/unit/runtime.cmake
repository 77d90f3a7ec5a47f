cs_unit_test(test_queue SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_queue.c LIBS ctl_runtime
             LABELS threaded)
cs_unit_test(test_metrics SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_metrics.c LIBS ctl_runtime
             LABELS threaded)
cs_unit_test(test_config SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_config.c LIBS ctl_runtime)
