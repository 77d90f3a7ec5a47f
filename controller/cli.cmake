# The elb-certsync executable (bin/elb-certsync): subcommand table in main.c.
if(TARGET ctl_run)
  add_executable(elb-certsync ${CMAKE_CURRENT_LIST_DIR}/main.c)
  target_link_libraries(elb-certsync PRIVATE ctl_run)
  target_compile_definitions(elb-certsync PRIVATE CS_VERSION="${PROJECT_VERSION}")
endif()
