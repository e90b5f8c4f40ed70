# cmake --install plus an exported package: find_package(dfscan) gives dfscan::core.
include(CMakePackageConfigHelpers)
install(TARGETS dfscan_lib EXPORT dfscanTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/dfscan DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp")
install(FILES ${PROJECT_BINARY_DIR}/include/dfscan/config.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/dfscan)
install(EXPORT dfscanTargets NAMESPACE dfscan:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/dfscan)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/dfscanConfig.cmake.in
  ${PROJECT_BINARY_DIR}/dfscanConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/dfscan)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/dfscanConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/dfscanConfig.cmake ${PROJECT_BINARY_DIR}/dfscanConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/dfscan)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/models/ DESTINATION ${CMAKE_INSTALL_DATADIR}/dfscan/models
  FILES_MATCHING PATTERN "*.safetensors" PATTERN "*.md")
