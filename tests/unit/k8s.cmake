# Unit tests of the k8s module (Kubernetes client).
if(TARGET k8s_client)
  cs_unit_test(test_k8s_config SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_k8s_config.c
               LIBS k8s_client)
endif()
