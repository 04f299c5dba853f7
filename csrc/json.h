/* JSON for railcar.jsonfast, over the CPython C API (the GIL held: it is object work).
 *
 * rc_json_loads is json.loads(s) for a str with strict=True, minus the NaN/Infinity/-Infinity
 * constants: objects (dict, a duplicate key's last value wins, key order kept), arrays, strings
 * with every escape (a \uXXXX surrogate pair joins, a lone surrogate stays a surrogate code point),
 * numbers by json's grammar (ints of any size, floats as float() reads them: 1e400 is inf),
 * true/false/null, " \t\n\r" around tokens. On bad input it raises ValueError (the Python side asks
 * the stdlib for json's wording); nesting deeper than the interpreter's recursion limit (or
 * RC_JSON_MAX_DEPTH) raises RecursionError.
 *
 * rc_json_dumps is json.dumps(obj, separators=(",", ":")) (ensure_ascii, allow_nan, no
 * check_circular: a cycle ends in RecursionError, as with jsonfast's _json encoder); dflt(o) is
 * called for any other type and its result encoded. With indent >= 0 it is jsonfast's indented
 * form instead: a non-empty dict or list one item a line (keys are str(key)), anything else
 * compact. New reference, or NULL with an exception set.
 */
#ifndef RAILCAR_JSON_H
#define RAILCAR_JSON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define RC_JSON_MAX_DEPTH 10000

PyObject *rc_json_loads(PyObject *s);
PyObject *rc_json_dumps(PyObject *obj, PyObject *dflt, Py_ssize_t indent);

#endif
