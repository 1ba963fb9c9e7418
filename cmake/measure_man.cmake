# Writes the measure(1) man page from the tool's own --help texts, so the page and --help never
# disagree: the overview from `measure --help`, then one section per subcommand from `measure
# SUBCOMMAND --help`, each as printed (options, exit status, examples).
# Usage: cmake -DMEASURE=path/to/measure -DVERSION=x.y.z -DOUTPUT=measure.1 -P measure_man.cmake

function(help_text out)
  execute_process(COMMAND ${MEASURE} ${ARGN} --help OUTPUT_VARIABLE text RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "measure ${ARGN} --help failed (${status})")
  endif()
  # roff: a backslash is \e, and a line starting with . or ' would be a request.
  string(REPLACE "\\" "\\e" text "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

help_text(overview)
# The subcommands are the lines after "Subcommands:" up to the first blank line.
string(REGEX MATCH "Subcommands:\n([^\n]+\n)+" listing "${overview}")
string(REGEX MATCHALL "\n  [a-z]+ " names "${listing}")
if(NOT names)
  message(FATAL_ERROR "no subcommands found in `measure --help`")
endif()

set(page ".TH MEASURE 1 \"\" \"measure ${VERSION}\" \"User Commands\"
.SH NAME
measure \\- where a program allocates memory, per call stack
.SH SYNOPSIS
.B measure
.I SUBCOMMAND
[\\fIOPTIONS\\fR] [\\fIARGUMENTS\\fR]
.SH DESCRIPTION
.nf
${overview}.fi
.SH SUBCOMMANDS
")
foreach(name IN LISTS names)
  string(STRIP "${name}" name)
  help_text(text ${name})
  string(APPEND page ".SS \"measure ${name}\"\n.nf\n${text}.fi\n")
endforeach()
string(APPEND page ".SH SEE ALSO
.BR heaptrack (1).
The source tree's docs/: reports.md (every report format), api.md (the in-process API),
integrations.md (CMake, pkg-config, Google Benchmark, doctest, GoogleTest, heaptrack, pprof).
")
file(WRITE "${OUTPUT}" "${page}")
