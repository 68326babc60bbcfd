package worker

import _ "embed"

// gunicornModule is worker/gunicornmod.py, put before the scripts that
// run a Gunicorn config file: pyconfigSource and hooksSource.
//
//go:embed gunicornmod.py
var gunicornModule string
