# lvio.cmake — levitate-virtio in a kernel's own CMake build.
#
#     set(LVIO_DRIVERS rng gpu)                 # optional: default every driver
#     include(third_party/levitate-virtio/lvio.cmake)
#     target_sources(kernel PRIVATE ${LVIO_SOURCES})
#     target_include_directories(kernel PRIVATE ${LVIO_INCLUDE_DIRS})
#     target_compile_definitions(kernel PRIVATE ${LVIO_DEFINITIONS})
#   or, as a library of its own built with the kernel's flags:
#     add_library(lvio STATIC ${LVIO_SOURCES})
#     target_include_directories(lvio PUBLIC ${LVIO_INCLUDE_DIRS})
#     target_compile_definitions(lvio PRIVATE ${LVIO_DEFINITIONS})
#
# Settings (before the include): LVIO_TRANSPORTS (mmio pci), LVIO_DRIVERS
# (default: every driver in src/drivers), LVIO_CONFIG (a configuration header
# of yours, see include/lvio/config.h). Gives LVIO_SOURCES, LVIO_INCLUDE_DIRS
# (include/ only: the private headers are found relative to the sources) and
# LVIO_DEFINITIONS (-D switches for the drivers left out and the config
# header). Nothing is written into the library's directory.

set(LVIO_DIR "${CMAKE_CURRENT_LIST_DIR}")
file(GLOB _lvio_driver_files RELATIVE "${LVIO_DIR}/src/drivers" "${LVIO_DIR}/src/drivers/*.c")
set(_lvio_drivers_all "")
foreach(_f ${_lvio_driver_files})
  string(REGEX REPLACE "[_.].*$" "" _d "${_f}")
  list(APPEND _lvio_drivers_all "${_d}")
endforeach()
list(REMOVE_DUPLICATES _lvio_drivers_all)
list(SORT _lvio_drivers_all)
if(NOT DEFINED LVIO_TRANSPORTS)
  set(LVIO_TRANSPORTS mmio pci)
endif()
if(NOT DEFINED LVIO_DRIVERS)
  set(LVIO_DRIVERS ${_lvio_drivers_all})
endif()

file(GLOB LVIO_SOURCES "${LVIO_DIR}/src/core/*.c")
foreach(_t ${LVIO_TRANSPORTS})
  file(GLOB _s "${LVIO_DIR}/src/transport/${_t}.c" "${LVIO_DIR}/src/transport/${_t}_*.c")
  list(APPEND LVIO_SOURCES ${_s})
endforeach()
set(LVIO_DEFINITIONS "")
foreach(_d ${_lvio_drivers_all})
  list(FIND LVIO_DRIVERS "${_d}" _i)
  if(_i GREATER -1)
    file(GLOB _s "${LVIO_DIR}/src/drivers/${_d}.c" "${LVIO_DIR}/src/drivers/${_d}_*.c")
    list(APPEND LVIO_SOURCES ${_s})
  else()
    string(TOUPPER "${_d}" _u)
    list(APPEND LVIO_DEFINITIONS "LVIO_WITH_${_u}=0")
  endif()
endforeach()
if(DEFINED LVIO_CONFIG)
  list(APPEND LVIO_DEFINITIONS "LVIO_CONFIG_HEADER=\"${LVIO_CONFIG}\"")
endif()
list(SORT LVIO_SOURCES)
set(LVIO_INCLUDE_DIRS "${LVIO_DIR}/include")
