/* The launcher's importer of railcar's compiled modules (tools/hotpath.py).
 *
 * Every import the interpreter cannot answer from sys.modules goes through
 * importlib._bootstrap._find_and_load, looked up by name at each call: a
 * walk over sys.meta_path, module locks and spec bookkeeping, all in
 * interpreted Python, ~20-40 us per module at start-up, more than the compiled
 * module's own initialization.  For railcar's modules, which are all built
 * into the executable, this replacement does what importlib would, in C: the
 * parent package first, a ModuleSpec (origin "built-in", packages get their
 * directory as __path__ (home_dir/railcar/...), so modules that are not compiled are still found
 * there by the import system), sys.modules before the body runs and out of it
 * again on failure, __spec__._initializing while it runs, the attribute on
 * the parent.  Any other name goes to importlib's own function.
 *
 * railcar imports from one thread only (the launcher's cgroup prewarm thread
 * never runs Python), so importlib's per-module locks have nothing to order. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "hotimport.h"

static PyObject *table;        /* name -> index into rc_hot */
static PyObject *fallback;     /* importlib._bootstrap._find_and_load */
static PyObject *ModuleSpec, *BuiltinImporter;
static PyObject *home;         /* where the package's directory is */
static PyObject *dot_str, *slash_str;

static PyObject *load(PyObject *name, const struct rc_hot_module *m);

static PyObject *find_and_load(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *idx;
    (void)self;
    if (nargs < 1 || !PyUnicode_Check(args[0]))
        return PyObject_Vectorcall(fallback, args, (size_t)nargs, NULL);
    idx = PyDict_GetItemWithError(table, args[0]);
    if (!idx) {
        if (PyErr_Occurred())
            return NULL;
        return PyObject_Vectorcall(fallback, args, (size_t)nargs, NULL);
    }
    return load(args[0], &rc_hot[PyLong_AsSsize_t(idx)]);
}

static PyMethodDef find_and_load_def = {
    "_find_and_load", (PyCFunction)(void (*)(void))find_and_load, METH_FASTCALL,
    "railcar's compiled modules without importlib's Python (csrc/hotimport.c)"
};

/* A new ModuleSpec(name, BuiltinImporter, origin="built-in"). */
static PyObject *make_spec(PyObject *name, int package)
{
    PyObject *kw = Py_BuildValue("{s:s}", "origin", "built-in");
    PyObject *args = kw ? PyTuple_Pack(2, name, BuiltinImporter) : NULL;
    PyObject *spec = args ? PyObject_Call(ModuleSpec, args, kw) : NULL;
    Py_XDECREF(args);
    Py_XDECREF(kw);
    if (spec && package) {
        /* home + "/" + name with dots as slashes */
        PyObject *rel = PyUnicode_Replace(name, dot_str, slash_str, -1);
        PyObject *dir = rel ? PyUnicode_FromFormat("%U/%U", home, rel) : NULL;
        PyObject *list = dir ? PyList_New(1) : NULL;
        Py_XDECREF(rel);
        if (list) {
            PyList_SET_ITEM(list, 0, dir);
            dir = NULL;
        }
        Py_XDECREF(dir);
        if (!list || PyObject_SetAttrString(spec, "submodule_search_locations", list) < 0)
            Py_CLEAR(spec);
        Py_XDECREF(list);
    }
    return spec;
}

/* The module object from the compiled init function: multi-phase (a
 * PyModuleDef, Cython's way) or single-phase (the module itself). */
static PyObject *create(const struct rc_hot_module *m, PyObject *spec, PyModuleDef **def)
{
    PyObject *r = m->init();
    *def = NULL;
    if (!r)
        return NULL;
    if (PyObject_TypeCheck(r, &PyModuleDef_Type)) {
        *def = (PyModuleDef *)r;
        return PyModule_FromDefAndSpec(*def, spec);
    }
    return r;
}

static int set_attrs(PyObject *mod, PyObject *name, PyObject *spec, int package)
{
    PyObject *parent;
    int rc;
    if (PyObject_SetAttrString(mod, "__spec__", spec) < 0 ||
        PyObject_SetAttrString(mod, "__loader__", BuiltinImporter) < 0)
        return -1;
    if (package) {
        PyObject *path = PyObject_GetAttrString(spec, "submodule_search_locations");
        rc = path ? PyObject_SetAttrString(mod, "__path__", path) : -1;
        Py_XDECREF(path);
        if (rc < 0)
            return -1;
        return PyObject_SetAttrString(mod, "__package__", name);
    }
    parent = PyObject_GetAttrString(spec, "parent");
    rc = parent ? PyObject_SetAttrString(mod, "__package__", parent) : -1;
    Py_XDECREF(parent);
    return rc;
}

static PyObject *load(PyObject *name, const struct rc_hot_module *m)
{
    PyObject *modules = PyImport_GetModuleDict();   /* borrowed */
    PyObject *parent_mod = NULL, *tail = NULL, *spec = NULL, *mod = NULL, *got;
    PyModuleDef *def;
    Py_ssize_t len = PyUnicode_GET_LENGTH(name);
    Py_ssize_t dot = PyUnicode_FindChar(name, '.', 0, len, -1);

    if (dot == -2)
        return NULL;
    if (dot >= 0) {
        PyObject *parent = PyUnicode_Substring(name, 0, dot);
        if (!parent)
            return NULL;
        parent_mod = PyImport_GetModule(parent);
        if (!parent_mod && !PyErr_Occurred()) {
            PyObject *top = PyImport_ImportModuleLevelObject(parent, NULL, NULL, NULL, 0);
            if (top) {
                Py_DECREF(top);          /* the top-level package: the parent itself is wanted */
                parent_mod = PyImport_GetModule(parent);
            }
        }
        Py_DECREF(parent);
        if (parent_mod == Py_None) {     /* sys.modules[parent] = None blocks it, as importlib says */
            Py_CLEAR(parent_mod);
            PyErr_Format(PyExc_ModuleNotFoundError, "import of %R halted; None in sys.modules", name);
            return NULL;
        }
        if (!parent_mod) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ModuleNotFoundError, "No module named %R", name);
            return NULL;
        }
        /* importing the parent may have imported this one */
        got = PyImport_GetModule(name);
        if (got || PyErr_Occurred()) {
            Py_DECREF(parent_mod);
            return got;
        }
        tail = PyUnicode_Substring(name, dot + 1, len);
        if (!tail)
            goto fail;
    }
    spec = make_spec(name, m->package);
    if (!spec)
        goto fail;
    mod = create(m, spec, &def);
    if (!mod || set_attrs(mod, name, spec, m->package) < 0)
        goto fail;
    if (PyObject_SetAttrString(spec, "_initializing", Py_True) < 0 || PyDict_SetItem(modules, name, mod) < 0)
        goto fail;
    if (def && PyModule_ExecDef(mod, def) < 0) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        if (PyDict_DelItem(modules, name) < 0)
            PyErr_Clear();
        PyErr_Restore(type, value, tb);
        goto fail;
    }
    if (PyObject_SetAttrString(spec, "_initializing", Py_False) < 0)
        goto fail;
    /* what the body left in sys.modules (a module may replace itself) */
    got = PyDict_GetItemWithError(modules, name);
    if (!got) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_ImportError, "%R not in sys.modules after its import", name);
        goto fail;
    }
    Py_INCREF(got);
    Py_DECREF(mod);
    mod = got;
    if (parent_mod && PyObject_SetAttr(parent_mod, tail, mod) < 0)
        goto fail;
    Py_XDECREF(parent_mod);
    Py_XDECREF(tail);
    Py_DECREF(spec);
    return mod;
fail:
    Py_XDECREF(parent_mod);
    Py_XDECREF(tail);
    Py_XDECREF(spec);
    Py_XDECREF(mod);
    return NULL;
}

int rc_hotimport_install(const char *home_dir)
{
    PyObject *bootstrap = PyImport_ImportModule("_frozen_importlib");
    PyObject *fn = NULL;
    Py_ssize_t i;
    int rc = -1;

    if (!bootstrap || !(home = PyUnicode_DecodeFSDefault(home_dir)))
        goto out;
    if (!(dot_str = PyUnicode_FromString(".")) || !(slash_str = PyUnicode_FromString("/")) ||
        !(table = PyDict_New()) || !(fallback = PyObject_GetAttrString(bootstrap, "_find_and_load")) ||
        !(ModuleSpec = PyObject_GetAttrString(bootstrap, "ModuleSpec")) ||
        !(BuiltinImporter = PyObject_GetAttrString(bootstrap, "BuiltinImporter")))
        goto out;
    for (i = 0; rc_hot[i].name; i++) {
        PyObject *k = PyUnicode_InternFromString(rc_hot[i].name), *v = PyLong_FromSsize_t(i);
        int r = k && v ? PyDict_SetItem(table, k, v) : -1;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (r < 0)
            goto out;
    }
    if (!(fn = PyCFunction_New(&find_and_load_def, NULL)) || PyObject_SetAttrString(bootstrap, "_find_and_load", fn) < 0)
        goto out;
    rc = 0;
out:
    Py_XDECREF(fn);
    Py_XDECREF(bootstrap);
    return rc;
}
