/* JSON parsing and encoding for railcar.jsonfast (see json.h for the contract).
 *
 * The parser walks the str's own code units (any of the three kinds) by index, every read
 * bounds-checked against the length; strings without escapes are substrings of the input, strings
 * with escapes are measured in a first pass and written in a second. Errors are ValueError with a
 * short text and a position: the Python side replaces them with json's wording.
 * The encoder writes ASCII into one growing buffer (every growth checked) and makes one str of it.
 */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- parsing */

struct parser {
    PyObject *str;
    int kind;
    const void *data;
    Py_ssize_t len;
    int depth;
};

#define CH(p, i) PyUnicode_READ((p)->kind, (p)->data, (i))

static PyObject *parse_value(struct parser *p, Py_ssize_t *pos);

static PyObject *bad(Py_ssize_t pos, const char *what)
{
    PyErr_Format(PyExc_ValueError, "%s at char %zd", what, pos);
    return NULL;
}

static Py_ssize_t skip_ws(const struct parser *p, Py_ssize_t i)
{
    while (i < p->len) {
        Py_UCS4 c = CH(p, i);
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        i++;
    }
    return i;
}

static int is_digit(Py_UCS4 c)
{
    return c >= '0' && c <= '9';
}

static int hex_value(Py_UCS4 c)
{
    if (c >= '0' && c <= '9')
        return (int)(c - '0');
    if (c >= 'a' && c <= 'f')
        return (int)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F')
        return (int)(c - 'A' + 10);
    return -1;
}

/* The 4 hex digits at i, or -1; the caller has checked i + 4 <= len. */
static long hex4(const struct parser *p, Py_ssize_t i)
{
    long v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hex_value(CH(p, i + k));
        if (h < 0)
            return -1;
        v = (v << 4) | h;
    }
    return v;
}

/* The escape whose backslash is at *i: its code point in *cp and *i moved past it; -1 with
 * ValueError if malformed. A high surrogate followed by an escaped low one makes one code point
 * (as json does); any other surrogate stays a lone one. */
static int read_escape(const struct parser *p, Py_ssize_t *i, Py_UCS4 *cp)
{
    Py_ssize_t j = *i;
    if (j + 1 >= p->len) {
        bad(j, "unterminated string");
        return -1;
    }
    switch (CH(p, j + 1)) {
    case '"': *cp = '"'; break;
    case '\\': *cp = '\\'; break;
    case '/': *cp = '/'; break;
    case 'b': *cp = '\b'; break;
    case 'f': *cp = '\f'; break;
    case 'n': *cp = '\n'; break;
    case 'r': *cp = '\r'; break;
    case 't': *cp = '\t'; break;
    case 'u': {
        long hi = p->len - j >= 6 ? hex4(p, j + 2) : -1;
        if (hi < 0) {
            bad(j, "invalid \\uXXXX escape");
            return -1;
        }
        *cp = (Py_UCS4)hi;
        *i = j + 6;
        if (hi >= 0xD800 && hi <= 0xDBFF && p->len - j >= 12 && CH(p, j + 6) == '\\' && CH(p, j + 7) == 'u') {
            long lo = hex4(p, j + 8);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                *cp = (Py_UCS4)(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00));
                *i = j + 12;
            }
        }
        return 0;
    }
    default:
        bad(j, "invalid escape");
        return -1;
    }
    *i = j + 2;
    return 0;
}

/* The string whose opening quote is at *pos; *pos moves past its closing quote. */
static PyObject *parse_string(struct parser *p, Py_ssize_t *pos)
{
    Py_ssize_t start = *pos + 1, i = start, n = 0, end;
    Py_UCS4 maxchar = 0, cp;
    int escaped = 0;

    /* The common case first: no escape, a substring of the input. */
    if (p->kind == PyUnicode_1BYTE_KIND) {
        const Py_UCS1 *d = p->data;
        while (i < p->len && d[i] != '"' && d[i] != '\\' && d[i] >= 0x20)
            i++;
    } else {
        while (i < p->len && CH(p, i) != '"' && CH(p, i) != '\\' && CH(p, i) >= 0x20)
            i++;
    }
    if (i < p->len && CH(p, i) == '"') {
        *pos = i + 1;
        return PyUnicode_Substring(p->str, start, i);
    }
    /* Else measure it (and find what is wrong, if anything) from the start. */
    i = start;
    for (;;) {
        if (i >= p->len)
            return bad(*pos, "unterminated string");
        Py_UCS4 c = CH(p, i);
        if (c == '"')
            break;
        if (c == '\\') {
            if (read_escape(p, &i, &cp) < 0)
                return NULL;
            escaped = 1;
        } else if (c < 0x20) {
            return bad(i, "invalid control character");
        } else {
            cp = c;
            i++;
        }
        if (cp > maxchar)
            maxchar = cp;
        n++;
    }
    end = i;
    *pos = end + 1;
    if (!escaped)
        return PyUnicode_Substring(p->str, start, end);

    PyObject *out = PyUnicode_New(n, maxchar);
    if (out == NULL)
        return NULL;
    int okind = PyUnicode_KIND(out);
    void *odata = PyUnicode_DATA(out);
    Py_ssize_t k = 0;
    for (i = start; i < end;) {
        Py_UCS4 c = CH(p, i);
        if (c == '\\') {
            if (read_escape(p, &i, &cp) < 0)
                goto fail;
        } else {
            cp = c;
            i++;
        }
        if (k >= n)
            break;
        PyUnicode_WRITE(okind, odata, k, cp);
        k++;
    }
    if (k != n || i != end) {
        PyErr_SetString(PyExc_SystemError, "json: a string measured differently on its second pass");
        goto fail;
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* json's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)? An 'e' not followed by an
 * exponent ends the number there (what follows is then refused, as by json). */
static PyObject *parse_number(struct parser *p, Py_ssize_t *pos)
{
    Py_ssize_t start = *pos, i = start;
    int is_float = 0;

    if (i < p->len && CH(p, i) == '-')
        i++;
    if (i >= p->len)
        return bad(start, "expecting value");
    if (CH(p, i) == '0') {
        i++;
    } else if (CH(p, i) >= '1' && CH(p, i) <= '9') {
        while (i < p->len && is_digit(CH(p, i)))
            i++;
    } else {
        return bad(start, "expecting value");
    }
    if (i + 1 < p->len && CH(p, i) == '.' && is_digit(CH(p, i + 1))) {
        is_float = 1;
        i += 2;
        while (i < p->len && is_digit(CH(p, i)))
            i++;
    }
    if (i < p->len && (CH(p, i) == 'e' || CH(p, i) == 'E')) {
        Py_ssize_t j = i + 1;
        if (j < p->len && (CH(p, j) == '-' || CH(p, j) == '+'))
            j++;
        if (j < p->len && is_digit(CH(p, j))) {
            while (j < p->len && is_digit(CH(p, j)))
                j++;
            is_float = 1;
            i = j;
        }
    }

    Py_ssize_t n = i - start;
    char small[64], *buf = small;
    if ((size_t)n >= sizeof small) {
        buf = PyMem_Malloc((size_t)n + 1);
        if (buf == NULL)
            return PyErr_NoMemory();
    }
    for (Py_ssize_t k = 0; k < n; k++)
        buf[k] = (char)CH(p, start + k); /* all ASCII: checked above */
    buf[n] = '\0';

    PyObject *v;
    if (is_float) {
        char *stop = NULL;
        double d = PyOS_string_to_double(buf, &stop, NULL); /* overflow gives ±inf, as float() */
        if (d == -1.0 && PyErr_Occurred())
            v = NULL;
        else if (stop != buf + n)
            v = bad(start, "invalid number");
        else if (isinf(d))   /* 1e400: Go's decoder (runc) refuses it, and dumps could not write it back */
            v = bad(start, "number out of range");
        else
            v = PyFloat_FromDouble(d);
    } else if (n <= 18) { /* at most 18 digits: fits a long long */
        long long x = 0;
        int neg = buf[0] == '-';
        for (Py_ssize_t k = neg; k < n; k++)
            x = x * 10 + (buf[k] - '0');
        v = PyLong_FromLongLong(neg ? -x : x);
    } else {
        v = PyLong_FromString(buf, NULL, 10); /* ValueError beyond sys.get_int_max_str_digits() */
    }
    if (buf != small)
        PyMem_Free(buf);
    if (v != NULL)
        *pos = i;
    return v;
}

static PyObject *parse_literal(struct parser *p, Py_ssize_t *pos, const char *word, PyObject *value)
{
    Py_ssize_t n = (Py_ssize_t)strlen(word);
    if (p->len - *pos < n)
        return bad(*pos, "expecting value");
    for (Py_ssize_t k = 0; k < n; k++)
        if (CH(p, *pos + k) != (Py_UCS4)(unsigned char)word[k])
            return bad(*pos, "expecting value");
    *pos += n;
    Py_INCREF(value);
    return value;
}

/* After an item of an object or array: 1 with i past a ',' (another item follows), 0 with *pos
 * past `close` (the end), -1 with ValueError set. */
static int next_item(const struct parser *p, Py_ssize_t *i, Py_ssize_t *pos, Py_UCS4 close, const char *expect)
{
    *i = skip_ws(p, *i);
    if (*i < p->len && CH(p, *i) == ',') {
        *i = skip_ws(p, *i + 1);
        return 1;
    }
    if (*i < p->len && CH(p, *i) == close) {
        *pos = *i + 1;
        return 0;
    }
    bad(*i, expect);
    return -1;
}

static PyObject *parse_object(struct parser *p, Py_ssize_t *pos)
{
    Py_ssize_t i = skip_ws(p, *pos + 1);
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    if (i < p->len && CH(p, i) == '}') {
        *pos = i + 1;
        return d;
    }
    for (;;) {
        if (i >= p->len || CH(p, i) != '"') {
            bad(i, "expecting property name in double quotes");
            goto fail;
        }
        PyObject *key = parse_string(p, &i);
        if (key == NULL)
            goto fail;
        i = skip_ws(p, i);
        if (i >= p->len || CH(p, i) != ':') {
            Py_DECREF(key);
            bad(i, "expecting ':'");
            goto fail;
        }
        i = skip_ws(p, i + 1);
        PyObject *val = parse_value(p, &i);
        if (val == NULL) {
            Py_DECREF(key);
            goto fail;
        }
        int rc = PyDict_SetItem(d, key, val); /* a duplicate key: its last value, its first place */
        Py_DECREF(key);
        Py_DECREF(val);
        if (rc < 0)
            goto fail;
        rc = next_item(p, &i, pos, '}', "expecting ',' or '}'");
        if (rc == 0)
            return d;
        if (rc < 0)
            goto fail;
    }
fail:
    Py_DECREF(d);
    return NULL;
}

static PyObject *parse_array(struct parser *p, Py_ssize_t *pos)
{
    Py_ssize_t i = skip_ws(p, *pos + 1);
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    if (i < p->len && CH(p, i) == ']') {
        *pos = i + 1;
        return list;
    }
    for (;;) {
        PyObject *val = parse_value(p, &i);
        if (val == NULL)
            goto fail;
        int rc = PyList_Append(list, val);
        Py_DECREF(val);
        if (rc < 0)
            goto fail;
        rc = next_item(p, &i, pos, ']', "expecting ',' or ']'");
        if (rc == 0)
            return list;
        if (rc < 0)
            goto fail;
    }
fail:
    Py_DECREF(list);
    return NULL;
}

/* One more level of nesting: bounded by the interpreter's recursion limit (as json's scanner is)
 * and by RC_JSON_MAX_DEPTH whatever that limit is set to (the C stack). */
static int enter(int *depth, const char *where)
{
    if (*depth >= RC_JSON_MAX_DEPTH) {
        PyErr_Format(PyExc_RecursionError, "JSON nested deeper than %d levels", RC_JSON_MAX_DEPTH);
        return -1;
    }
    if (Py_EnterRecursiveCall(where))
        return -1;
    (*depth)++;
    return 0;
}

static void leave(int *depth)
{
    (*depth)--;
    Py_LeaveRecursiveCall();
}

static PyObject *parse_value(struct parser *p, Py_ssize_t *pos)
{
    PyObject *v;
    if (*pos >= p->len)
        return bad(*pos, "expecting value");
    switch (CH(p, *pos)) {
    case '"':
        return parse_string(p, pos);
    case '{':
        if (enter(&p->depth, " while decoding a JSON object from a unicode string"))
            return NULL;
        v = parse_object(p, pos);
        leave(&p->depth);
        return v;
    case '[':
        if (enter(&p->depth, " while decoding a JSON array from a unicode string"))
            return NULL;
        v = parse_array(p, pos);
        leave(&p->depth);
        return v;
    case 'n':
        return parse_literal(p, pos, "null", Py_None);
    case 't':
        return parse_literal(p, pos, "true", Py_True);
    case 'f':
        return parse_literal(p, pos, "false", Py_False);
    default:
        return parse_number(p, pos); /* NaN, Infinity, -Infinity end up refused here */
    }
}

PyObject *rc_json_loads(PyObject *s)
{
    if (!PyUnicode_Check(s)) {
        PyErr_Format(PyExc_TypeError, "the JSON object must be str, not %.100s", Py_TYPE(s)->tp_name);
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(s) < 0)
        return NULL;
#endif
    struct parser p = {s, PyUnicode_KIND(s), PyUnicode_DATA(s), PyUnicode_GET_LENGTH(s), 0};
    Py_ssize_t i = skip_ws(&p, 0);
    PyObject *v = parse_value(&p, &i);
    if (v == NULL)
        return NULL;
    i = skip_ws(&p, i);
    if (i != p.len) {
        Py_DECREF(v);
        return bad(i, "extra data");
    }
    return v;
}

/* ---------------------------------------------------------------- encoding */

struct out {
    char *p;
    size_t len, cap;
};

struct enc {
    struct out o;
    PyObject *dflt;
    Py_ssize_t indent;
    int depth;
};

static int out_reserve(struct out *o, size_t more)
{
    if (more > (size_t)PY_SSIZE_T_MAX - o->len) {
        PyErr_NoMemory();
        return -1;
    }
    size_t need = o->len + more;
    if (need <= o->cap)
        return 0;
    size_t cap = o->cap ? o->cap : 256;
    while (cap < need)
        cap = cap > (size_t)PY_SSIZE_T_MAX / 2 ? need : cap * 2;
    char *np = PyMem_Realloc(o->p, cap);
    if (np == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    o->p = np;
    o->cap = cap;
    return 0;
}

static int out_put(struct out *o, const char *s, size_t n)
{
    if (out_reserve(o, n) < 0)
        return -1;
    memcpy(o->p + o->len, s, n);
    o->len += n;
    return 0;
}

#define PUT_LIT(o, lit) out_put((o), (lit), sizeof(lit) - 1)

static int out_spaces(struct out *o, Py_ssize_t indent, Py_ssize_t level)
{
    if (indent <= 0 || level <= 0)
        return 0;
    if (level > PY_SSIZE_T_MAX / indent) {
        PyErr_NoMemory();
        return -1;
    }
    size_t n = (size_t)(indent * level);
    if (out_reserve(o, n) < 0)
        return -1;
    memset(o->p + o->len, ' ', n);
    o->len += n;
    return 0;
}

/* Bytes json's encode_basestring_ascii writes for c. */
static size_t escaped_len(Py_UCS4 c)
{
    if (c >= ' ' && c <= '~')
        return c == '\\' || c == '"' ? 2 : 1;
    if (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
        return 2;
    return c >= 0x10000 ? 12 : 6;
}

static char *put_u(char *w, Py_UCS4 c)
{
    static const char hex[] = "0123456789abcdef";
    *w++ = '\\';
    *w++ = 'u';
    *w++ = hex[(c >> 12) & 0xf];
    *w++ = hex[(c >> 8) & 0xf];
    *w++ = hex[(c >> 4) & 0xf];
    *w++ = hex[c & 0xf];
    return w;
}

/* s quoted and escaped to ASCII, exactly as json.encoder.encode_basestring_ascii. */
static int put_str(struct out *o, PyObject *s)
{
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(s) < 0)
        return -1;
#endif
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    if ((size_t)n > ((size_t)PY_SSIZE_T_MAX - 2) / 12) {
        PyErr_NoMemory();
        return -1;
    }
    size_t need = 2;
    for (Py_ssize_t i = 0; i < n; i++)
        need += escaped_len(PyUnicode_READ(kind, data, i));
    if (out_reserve(o, need) < 0)
        return -1;
    char *w = o->p + o->len, *w0 = w;
    *w++ = '"';
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c >= ' ' && c <= '~') {
            if (c == '\\' || c == '"')
                *w++ = '\\';
            *w++ = (char)c;
            continue;
        }
        switch (c) {
        case '\b': *w++ = '\\'; *w++ = 'b'; break;
        case '\f': *w++ = '\\'; *w++ = 'f'; break;
        case '\n': *w++ = '\\'; *w++ = 'n'; break;
        case '\r': *w++ = '\\'; *w++ = 'r'; break;
        case '\t': *w++ = '\\'; *w++ = 't'; break;
        default:
            if (c >= 0x10000) {
                Py_UCS4 v = c - 0x10000;
                w = put_u(w, 0xD800 | (v >> 10));
                w = put_u(w, 0xDC00 | (v & 0x3ff));
            } else {
                w = put_u(w, c);
            }
        }
    }
    *w++ = '"';
    if ((size_t)(w - w0) != need) { /* cannot happen: escaped_len and the loop agree */
        PyErr_SetString(PyExc_SystemError, "json: a string encoded to another length than measured");
        return -1;
    }
    o->len += need;
    return 0;
}

/* An ASCII str (a repr), consumed. */
static int put_ascii_obj(struct out *o, PyObject *r)
{
    if (r == NULL)
        return -1;
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(r, &n);
    int rc = s == NULL ? -1 : out_put(o, s, (size_t)n);
    Py_DECREF(r);
    return rc;
}

/* int.__repr__ of v (an int subclass too, as json). */
static int put_int(struct out *o, PyObject *v)
{
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (x == -1 && PyErr_Occurred())
        return -1;
    if (overflow)
        return put_ascii_obj(o, PyLong_Type.tp_repr(v)); /* may raise: sys.set_int_max_str_digits */
    char b[32];
    int n = snprintf(b, sizeof b, "%lld", x);
    if (n < 0 || (size_t)n >= sizeof b) {
        PyErr_SetString(PyExc_SystemError, "json: an int did not fit its buffer");
        return -1;
    }
    return out_put(o, b, (size_t)n);
}

/* float.__repr__ of v, or NaN/Infinity/-Infinity (json's allow_nan). */
static int put_float(struct out *o, PyObject *v)
{
    double d = PyFloat_AS_DOUBLE(v);
    if (isnan(d))
        return PUT_LIT(o, "NaN");
    if (isinf(d))
        return d > 0 ? PUT_LIT(o, "Infinity") : PUT_LIT(o, "-Infinity");
    char *s = PyOS_double_to_string(d, 'r', 0, Py_DTSF_ADD_DOT_0, NULL); /* what float.__repr__ does */
    if (s == NULL)
        return -1;
    int rc = out_put(o, s, strlen(s));
    PyMem_Free(s);
    return rc;
}

static int put_obj(struct enc *e, PyObject *obj);
static int put_pretty(struct enc *e, PyObject *obj, Py_ssize_t level);

/* A dict key as json writes it: a str, or a float/bool/None/int turned into one. */
static int put_key(struct out *o, PyObject *key)
{
    int rc;
    if (PyUnicode_Check(key))
        return put_str(o, key);
    if (key == Py_True)
        return PUT_LIT(o, "\"true\"");
    if (key == Py_False)
        return PUT_LIT(o, "\"false\"");
    if (key == Py_None)
        return PUT_LIT(o, "\"null\"");
    if (PyFloat_Check(key) || PyLong_Check(key)) { /* their text needs no escaping */
        if (PUT_LIT(o, "\"") < 0)
            return -1;
        rc = PyFloat_Check(key) ? put_float(o, key) : put_int(o, key);
        return rc < 0 ? -1 : PUT_LIT(o, "\"");
    }
    PyErr_Format(PyExc_TypeError, "keys must be str, int, float, bool or None, not %.100s", Py_TYPE(key)->tp_name);
    return -1;
}

/* The (key, value) pairs of a dict (or a subclass's items()), as json's encoder takes them. */
static PyObject *dict_items(PyObject *d)
{
    PyObject *items = PyMapping_Items(d);
    if (items == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
            PyErr_SetString(PyExc_ValueError, "items must return 2-tuples");
            Py_DECREF(items);
            return NULL;
        }
    }
    return items;
}

static int put_dict(struct enc *e, PyObject *d)
{
    if (PyDict_GET_SIZE(d) == 0)
        return PUT_LIT(&e->o, "{}");
    PyObject *items = dict_items(d);
    if (items == NULL)
        return -1;
    int rc = PUT_LIT(&e->o, "{");
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(items); i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        if (i > 0)
            rc = PUT_LIT(&e->o, ",");
        if (rc == 0)
            rc = put_key(&e->o, PyTuple_GET_ITEM(item, 0));
        if (rc == 0)
            rc = PUT_LIT(&e->o, ":");
        if (rc == 0)
            rc = put_obj(e, PyTuple_GET_ITEM(item, 1));
    }
    Py_DECREF(items);
    return rc < 0 ? -1 : PUT_LIT(&e->o, "}");
}

/* A list or a tuple; the length is read again at each item, as json's encoder does. */
static int put_seq(struct enc *e, PyObject *seq)
{
    int is_list = PyList_Check(seq);
    Py_ssize_t n = is_list ? PyList_GET_SIZE(seq) : PyTuple_GET_SIZE(seq);
    if (n == 0)
        return PUT_LIT(&e->o, "[]");
    int rc = PUT_LIT(&e->o, "[");
    for (Py_ssize_t i = 0; rc == 0 && i < (is_list ? PyList_GET_SIZE(seq) : n); i++) {
        PyObject *item = is_list ? PyList_GET_ITEM(seq, i) : PyTuple_GET_ITEM(seq, i);
        Py_INCREF(item);
        if (i > 0)
            rc = PUT_LIT(&e->o, ",");
        if (rc == 0)
            rc = put_obj(e, item);
        Py_DECREF(item);
    }
    return rc < 0 ? -1 : PUT_LIT(&e->o, "]");
}

/* The compact form, json's encoder's order of checks. */
static int put_obj(struct enc *e, PyObject *obj)
{
    int rc;
    if (obj == Py_None)
        return PUT_LIT(&e->o, "null");
    if (obj == Py_True)
        return PUT_LIT(&e->o, "true");
    if (obj == Py_False)
        return PUT_LIT(&e->o, "false");
    if (PyUnicode_Check(obj))
        return put_str(&e->o, obj);
    if (PyLong_Check(obj))
        return put_int(&e->o, obj);
    if (PyFloat_Check(obj))
        return put_float(&e->o, obj);
    if (PyList_Check(obj) || PyTuple_Check(obj) || PyDict_Check(obj)) {
        if (enter(&e->depth, " while encoding a JSON object"))
            return -1;
        rc = PyDict_Check(obj) ? put_dict(e, obj) : put_seq(e, obj);
        leave(&e->depth);
        return rc;
    }
    PyObject *r = PyObject_CallOneArg(e->dflt, obj); /* jsonfast's default raises TypeError */
    if (r == NULL)
        return -1;
    if (enter(&e->depth, " while encoding a JSON object")) {
        Py_DECREF(r);
        return -1;
    }
    rc = put_obj(e, r);
    leave(&e->depth);
    Py_DECREF(r);
    return rc;
}

/* jsonfast's indented form of a non-empty dict: one "key": value a line, keys as str(key). */
static int pretty_dict(struct enc *e, PyObject *d, Py_ssize_t level)
{
    PyObject *items = dict_items(d);
    if (items == NULL)
        return -1;
    int rc = PUT_LIT(&e->o, "{\n");
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(items); i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        if (i > 0)
            rc = PUT_LIT(&e->o, ",\n");
        if (rc == 0)
            rc = out_spaces(&e->o, e->indent, level + 1);
        if (rc == 0) {
            PyObject *k = PyObject_Str(PyTuple_GET_ITEM(item, 0));
            rc = k == NULL ? -1 : put_str(&e->o, k);
            Py_XDECREF(k);
        }
        if (rc == 0)
            rc = PUT_LIT(&e->o, ": ");
        if (rc == 0)
            rc = put_pretty(e, PyTuple_GET_ITEM(item, 1), level + 1);
    }
    Py_DECREF(items);
    if (rc == 0)
        rc = PUT_LIT(&e->o, "\n");
    if (rc == 0)
        rc = out_spaces(&e->o, e->indent, level);
    return rc < 0 ? -1 : PUT_LIT(&e->o, "}");
}

static int pretty_list(struct enc *e, PyObject *list, Py_ssize_t level)
{
    int rc = PUT_LIT(&e->o, "[\n");
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(list); i++) {
        PyObject *item = PyList_GET_ITEM(list, i);
        Py_INCREF(item);
        if (i > 0)
            rc = PUT_LIT(&e->o, ",\n");
        if (rc == 0)
            rc = out_spaces(&e->o, e->indent, level + 1);
        if (rc == 0)
            rc = put_pretty(e, item, level + 1);
        Py_DECREF(item);
    }
    if (rc == 0)
        rc = PUT_LIT(&e->o, "\n");
    if (rc == 0)
        rc = out_spaces(&e->o, e->indent, level);
    return rc < 0 ? -1 : PUT_LIT(&e->o, "]");
}

/* A non-empty dict or list (subclasses too; not a tuple) indented, anything else compact. */
static int put_pretty(struct enc *e, PyObject *obj, Py_ssize_t level)
{
    int is_dict = PyDict_Check(obj);
    if (is_dict || PyList_Check(obj)) {
        int truth = PyObject_IsTrue(obj);
        if (truth < 0)
            return -1;
        if (truth) {
            if (enter(&e->depth, " while encoding a JSON object"))
                return -1;
            int rc = is_dict ? pretty_dict(e, obj, level) : pretty_list(e, obj, level);
            leave(&e->depth);
            return rc;
        }
    }
    return put_obj(e, obj);
}

PyObject *rc_json_dumps(PyObject *obj, PyObject *dflt, Py_ssize_t indent)
{
    struct enc e = {{NULL, 0, 0}, dflt, indent, 0};
    int rc = indent >= 0 ? put_pretty(&e, obj, 0) : put_obj(&e, obj);
    PyObject *r = NULL;
    if (rc == 0) {
        r = PyUnicode_New((Py_ssize_t)e.o.len, 127);
        if (r != NULL && e.o.len > 0)
            memcpy(PyUnicode_DATA(r), e.o.p, e.o.len);
    }
    PyMem_Free(e.o.p);
    return r;
}
