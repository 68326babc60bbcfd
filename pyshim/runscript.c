/*
 * runscript.c: a whole Python program run by the binary in a helper mode
 * (the Python config reader, the hook host): CPython owns the process
 * like python3 -c would, with its own signal handlers, and finalizes
 * before returning. Nothing here is used by a worker.
 */
#include "pyshim.h"

/*
 * gw_run_script runs source as python3 -c would, with sys.argv set to
 * argv[0:argc], and returns the exit status (SystemExit's code, 1 after
 * an uncaught exception, 120 when finalization fails). executable, when
 * non-empty, is PyConfig.executable (a virtualenv's python). Call on the
 * locked main OS thread; CPython is finalized when it returns.
 */
int gw_run_script(const char *program, const char *executable, const char *source,
		  int argc, char **argv)
{
	PyConfig config;
	PyStatus st;

	PyConfig_InitPythonConfig(&config);
	config.parse_argv = 0;
	st = PyConfig_SetBytesString(&config, &config.program_name, program);
	if (!PyStatus_Exception(st) && executable != NULL && executable[0])
		st = PyConfig_SetBytesString(&config, &config.executable, executable);
	if (!PyStatus_Exception(st))
		st = PyConfig_SetBytesArgv(&config, argc, argv);
	if (!PyStatus_Exception(st))
		st = PyConfig_SetBytesString(&config, &config.run_command, source);
	if (!PyStatus_Exception(st))
		st = Py_InitializeFromConfig(&config);
	PyConfig_Clear(&config);
	if (PyStatus_Exception(st)) {
		if (PyStatus_IsExit(st))
			return st.exitcode;
		fprintf(stderr, "gowsgi: the Python interpreter failed to start: %s%s%s\n",
			st.func ? st.func : "", st.func ? ": " : "",
			st.err_msg ? st.err_msg : "unknown error");
		return 1;
	}
	return Py_RunMain();
}
