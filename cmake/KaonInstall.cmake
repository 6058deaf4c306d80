# `make install` (cmake --install): headers under include/kaon/, the static
# and the shared library, kaon.pc for pkg-config, the CMake package
# (find_package(kaon) -> kaon::kaon), the tools and kaon's XDP program.
include(CMakePackageConfigHelpers)

set(KAON_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/kaon)

install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/kaon
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(TARGETS kaon_shared kaon_static EXPORT kaonTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
foreach(tool kaon-echo kaon-bench kaon-stat kaon-httpd)
  if(TARGET ${tool})
    install(TARGETS ${tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()
# Where an installed kaon looks for its XDP program (src/sock/CMakeLists.txt
# compiles the same path in).
if(TARGET kaon_xdp)
  install(FILES ${KAON_XDP_OBJ} DESTINATION ${KAON_XDP_INSTALL_DIR})
endif()

# The pkg-config and CMake dependencies are the ones this build was made
# with: a kaon built without liburing does not ask for it.
set(KAON_PC_REQUIRES "")
set(KAON_PKG_MODULES "")
if(KAON_WITH_DPDK)
  list(APPEND KAON_PC_REQUIRES libdpdk)
  list(APPEND KAON_PKG_MODULES DPDK=libdpdk)
endif()
if(KAON_WITH_URING)
  list(APPEND KAON_PC_REQUIRES liburing)
  list(APPEND KAON_PKG_MODULES URING=liburing)
endif()
if(TARGET PkgConfig::LIBBPF)
  list(APPEND KAON_PC_REQUIRES libbpf)
  list(APPEND KAON_PKG_MODULES LIBBPF=libbpf)
endif()
if(INIH_FOUND)
  list(APPEND KAON_PC_REQUIRES inih)
  list(APPEND KAON_PKG_MODULES INIH=inih)
endif()
list(JOIN KAON_PC_REQUIRES ", " KAON_PC_REQUIRES)
list(JOIN KAON_PKG_MODULES " " KAON_PKG_MODULES_CMAKE)

file(RELATIVE_PATH KAON_PC_PREFIX_FROM_PCDIR ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig
  ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" KAON_PC_PREFIX_FROM_PCDIR "${KAON_PC_PREFIX_FROM_PCDIR}")
file(RELATIVE_PATH KAON_PC_LIBDIR ${CMAKE_INSTALL_PREFIX} ${CMAKE_INSTALL_FULL_LIBDIR})
file(RELATIVE_PATH KAON_PC_INCLUDEDIR ${CMAKE_INSTALL_PREFIX} ${CMAKE_INSTALL_FULL_INCLUDEDIR})
configure_file(${CMAKE_SOURCE_DIR}/cmake/kaon.pc.in ${CMAKE_BINARY_DIR}/kaon.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/kaon.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(EXPORT kaonTargets NAMESPACE kaon:: DESTINATION ${KAON_CMAKE_DIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/kaonConfig.cmake.in
  ${CMAKE_BINARY_DIR}/kaonConfig.cmake INSTALL_DESTINATION ${KAON_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/kaonConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/kaonConfig.cmake ${CMAKE_BINARY_DIR}/kaonConfigVersion.cmake
  DESTINATION ${KAON_CMAKE_DIR})
