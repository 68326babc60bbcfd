#ifndef GOWSGI_PYSHIMTEST_HELPERS_H
#define GOWSGI_PYSHIMTEST_HELPERS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

void install_failing_calloc(void);
void arm_failing_calloc(void);
int failing_calloc_armed(void);
int gil_held(void);
int py_version_hex(void);
int run_on_new_thread(uintptr_t handle);
extern void pyshimtestRun(uintptr_t handle);

#endif
