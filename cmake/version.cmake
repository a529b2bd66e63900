# Writes generated/version.cpp from cmake/version.cpp.in with the source tree's git description.
# Run at configure time and again before every build (target loid_version_file), so a run's
# config.json names the code it was built from even after incremental builds; configure_file leaves
# the file untouched when the text is the same, so an unchanged description rebuilds nothing.
# Inputs: LOID_SOURCE_DIR, LOID_VERSION_IN, LOID_VERSION_OUT, PROJECT_VERSION.
execute_process(COMMAND git describe --always --dirty --tags
                WORKING_DIRECTORY ${LOID_SOURCE_DIR}
                OUTPUT_VARIABLE LOID_GIT_VERSION OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT LOID_GIT_VERSION)
  set(LOID_GIT_VERSION "unknown")
endif()
configure_file(${LOID_VERSION_IN} ${LOID_VERSION_OUT} @ONLY)
