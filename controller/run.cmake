# The controller runtime on Kubernetes and a provider: objects, provider cache, reconcile,
# controller, and the run and validate subcommands.
if(TARGET elb_provider AND TARGET k8s_client)
  add_library(ctl_run STATIC
    ${CMAKE_CURRENT_LIST_DIR}/objects.c
    ${CMAKE_CURRENT_LIST_DIR}/pcache.c
    ${CMAKE_CURRENT_LIST_DIR}/reconcile.c
    ${CMAKE_CURRENT_LIST_DIR}/controller.c
    ${CMAKE_CURRENT_LIST_DIR}/run.c
    ${CMAKE_CURRENT_LIST_DIR}/validate.c)
  target_link_libraries(ctl_run PUBLIC ctl_core ctl_runtime elb_provider k8s_client)
  target_compile_definitions(ctl_run PRIVATE CS_VERSION_STRING="${PROJECT_VERSION}")
endif()
