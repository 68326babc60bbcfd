"""gowsgi's examples, importable as a package from the repository root
(`gowsgi examples.hello:app`), as examples/Procfile runs them."""
