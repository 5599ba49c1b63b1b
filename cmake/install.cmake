# `cmake --install`: the binaries, the static libraries, the public headers (as
# include/smolvk/{runtime,loader,model}/*.h, included as "model/smolvlm.h") and a package config,
# so that a program does
#   find_package(smolvk REQUIRED)
#   target_link_libraries(app PRIVATE smolvk::smolvk)
# The libraries' targets are left as they are (their include paths are the source tree); the
# config file declares imported targets for the installed copies instead.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS smolvk bench_ops RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET smolvk-serve)
  install(TARGETS smolvk-serve RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
if(TARGET smolvk-gui)  # OPTIONAL: a build of only the CLI and server may leave it out
  install(TARGETS smolvk-gui RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} OPTIONAL)
endif()
install(TARGETS smolvk_shaders smolvk_runtime smolvk_loader smolvk_model ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
foreach(_dir runtime loader model)
  install(DIRECTORY ${CMAKE_SOURCE_DIR}/${_dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/smolvk/${_dir}
          FILES_MATCHING PATTERN "*.h")
endforeach()

set(_pkg ${CMAKE_INSTALL_LIBDIR}/cmake/smolvk)
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/smolvkConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/smolvkConfig.cmake INSTALL_DESTINATION ${_pkg}
                              PATH_VARS CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/smolvkConfigVersion.cmake VERSION 0.1.0
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/smolvkConfig.cmake ${CMAKE_BINARY_DIR}/smolvkConfigVersion.cmake DESTINATION ${_pkg})
