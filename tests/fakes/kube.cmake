# fake-kube-apiserver: a loopback Kubernetes API server for the integration tests, the demo
# and the benchmarks (tests/fakes/kube/), its unit tests and its fuzz target.
set(FK_DIR ${CMAKE_SOURCE_DIR}/tests/fakes/kube)
add_library(fk_core STATIC
            ${FK_DIR}/api.c ${FK_DIR}/discovery.c ${FK_DIR}/patch.c ${FK_DIR}/selectors.c
            ${FK_DIR}/store.c ${FK_DIR}/tlsgen.c ${FK_DIR}/types.c ${FK_DIR}/watch.c)
target_link_libraries(fk_core PUBLIC cs_common PkgConfig::CJSON OpenSSL::Crypto
                      Threads::Threads)

add_executable(fake-kube-apiserver ${FK_DIR}/main.c)
target_link_libraries(fake-kube-apiserver PRIVATE fk_core PkgConfig::MHD)
set_target_properties(fake-kube-apiserver PROPERTIES
                      RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)

foreach(t selectors patch store api)
  set(src ${CMAKE_SOURCE_DIR}/tests/unit/test_fake_kube_${t}.c)
  if(EXISTS ${src})
    if(t STREQUAL "api")
      cs_unit_test(test_fake_kube_${t} SOURCES ${src} LIBS fk_core LABELS threaded)
    else()
      cs_unit_test(test_fake_kube_${t} SOURCES ${src} LIBS fk_core)
    endif()
  endif()
endforeach()

cs_fuzz_target(fuzz_fake_kube_api SOURCES ${FK_DIR}/fuzz_api.c LIBS fk_core
               CORPUS ${CMAKE_SOURCE_DIR}/tests/data/kube/fuzz-corpus)
