# install_conf.cmake — the install step for rbacd.conf and rbacd.service, included by
# the install(CODE) of CMakeLists.txt, which sets RBACD_SRC (the checkout) and the
# directories RBACD_BINDIR, RBACD_CONFDIR, RBACD_DOCDIR, RBACD_UNITDIR (relative to
# CMAKE_INSTALL_PREFIX unless absolute). Runs at install time, so --prefix and DESTDIR
# apply:
#   * rbacd.conf goes to CONFDIR (file(INSTALL) adds DESTDIR itself; the rest here
#     adds it by hand), unless one is there already: an edited configuration
#     is never overwritten; the new one is then written beside it as rbacd.conf.dist;
#   * rbacd.service goes to UNITDIR with the /usr/local paths it is written with
#     replaced by where the binary, the configuration and the README were installed.

foreach(dir BINDIR CONFDIR DOCDIR UNITDIR)
    if(IS_ABSOLUTE "${RBACD_${dir}}")
        set(abs_${dir} "${RBACD_${dir}}")
    else()
        set(abs_${dir} "${CMAKE_INSTALL_PREFIX}/${RBACD_${dir}}")
    endif()
endforeach()

set(conf "$ENV{DESTDIR}${abs_CONFDIR}/rbacd.conf")
if(EXISTS "${conf}")
    message(STATUS "Keeping: ${conf} (the shipped one goes to rbacd.conf.dist)")
    file(INSTALL "${RBACD_SRC}/conf/rbacd.conf" DESTINATION "${abs_CONFDIR}"
         RENAME rbacd.conf.dist PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
else()
    file(INSTALL "${RBACD_SRC}/conf/rbacd.conf" DESTINATION "${abs_CONFDIR}"
         PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
endif()

file(READ "${RBACD_SRC}/conf/rbacd.service" unit)
string(REPLACE "/usr/local/bin/rbacd " "${abs_BINDIR}/rbacd " unit "${unit}")
string(REPLACE "/usr/local/etc/rbacd/" "${abs_CONFDIR}/" unit "${unit}")
string(REPLACE "/usr/local/share/doc/rbacd/" "${abs_DOCDIR}/" unit "${unit}")
set(unitfile "$ENV{DESTDIR}${abs_UNITDIR}/rbacd.service")
message(STATUS "Installing: ${unitfile}")
file(WRITE "${unitfile}" "${unit}")
