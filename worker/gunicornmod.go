package worker

import (
	_ "embed"
	"encoding/base64"
)

//go:embed gunicornmod.py
var gunicornmodPy string

//go:embed glogging.py
var gloggingPy string

// gunicornModule is worker/gunicornmod.py, put before the scripts that
// run a Gunicorn config file or a logger class: pyconfigSource,
// hooksSource and pyloggingSource. It makes gowsgi's gunicorn.glogging
// from glogging.py's source, which travels in base64 (any Python string
// literal holds it).
var gunicornModule = "_GLOGGING_SOURCE = __import__('base64').b64decode('" +
	base64.StdEncoding.EncodeToString([]byte(gloggingPy)) + "').decode()\n" + gunicornmodPy
