# The controller's runtime pieces that do not depend on Kubernetes or a provider.
add_library(ctl_runtime STATIC
  ${CMAKE_CURRENT_LIST_DIR}/queue.c
  ${CMAKE_CURRENT_LIST_DIR}/metrics.c
  ${CMAKE_CURRENT_LIST_DIR}/httpd.c
  ${CMAKE_CURRENT_LIST_DIR}/config.c)
target_link_libraries(ctl_runtime PUBLIC ctl_core cs_common PkgConfig::MHD m)
