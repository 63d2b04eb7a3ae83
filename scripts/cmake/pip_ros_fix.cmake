# Repairs the include paths that the PyPI ROS 2 wheels hard-code into their exported CMake targets.
# The wheels were built under /opt/python/cp311-cp311; this rewrites those paths to this interpreter's
# include and numpy directories. Passed to colcon as -DCMAKE_PROJECT_INCLUDE by scripts/setup.sh.
function(_pip_ros_fix_imported_targets)
  find_package(Python3 REQUIRED COMPONENTS Interpreter Development.Module NumPy)
  get_property(_targets DIRECTORY "${CMAKE_SOURCE_DIR}" PROPERTY IMPORTED_TARGETS)
  foreach(_target IN LISTS _targets)
    get_target_property(_inc ${_target} INTERFACE_INCLUDE_DIRECTORIES)
    if(_inc AND _inc MATCHES "/opt/python/cp3[0-9]+-cp3[0-9]+/")
      string(REGEX REPLACE "/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\\.[0-9]+"
             "${Python3_INCLUDE_DIRS}" _inc "${_inc}")
      string(REGEX REPLACE "/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\\.[0-9]+/site-packages/numpy/_core/include"
             "${Python3_NumPy_INCLUDE_DIRS}" _inc "${_inc}")
      set_target_properties(${_target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_inc}")
    endif()
  endforeach()
endfunction()

if(CMAKE_CURRENT_SOURCE_DIR STREQUAL CMAKE_SOURCE_DIR)
  cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _pip_ros_fix_imported_targets)
endif()
