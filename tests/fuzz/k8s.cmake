# Fuzz targets of the k8s module: the watch stream parser and the kubeconfig parser.
if(TARGET k8s_client)
  cs_fuzz_target(fuzz_k8s_watch SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_k8s_watch.c
                 LIBS k8s_client CORPUS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/k8s_watch)
  cs_fuzz_target(fuzz_k8s_kubeconfig SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_k8s_kubeconfig.c
                 LIBS k8s_client CORPUS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/k8s_kubeconfig)
endif()
