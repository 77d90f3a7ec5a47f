# Unit tests of the k8s module (Kubernetes client). test_k8s_server.c is a scripted loopback
# HTTP server #included by the tests that need one.
if(TARGET k8s_client)
  cs_unit_test(test_k8s_config SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_k8s_config.c
               LIBS k8s_client)
  cs_unit_test(test_k8s_client SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_k8s_client.c
               LIBS k8s_client PkgConfig::MHD LABELS threaded)
endif()
if(TARGET k8s_client)
  cs_unit_test(test_k8s_watch SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_k8s_watch.c
               LIBS k8s_client)
endif()
if(TARGET k8s_client)
  cs_unit_test(test_k8s_store SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_k8s_store.c
               LIBS k8s_client LABELS threaded)
endif()
if(TARGET k8s_client)
  cs_unit_test(test_k8s_reflector SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_k8s_reflector.c
               LIBS k8s_client PkgConfig::MHD LABELS threaded)
endif()
if(TARGET k8s_client)
  cs_unit_test(test_k8s_lease SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_k8s_lease.c
               LIBS k8s_client PkgConfig::MHD LABELS threaded)
endif()
if(TARGET k8s_client)
  cs_unit_test(test_k8s_events SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_k8s_events.c
               LIBS k8s_client PkgConfig::MHD LABELS threaded)
endif()
