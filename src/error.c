#include "common.h"
#include "error.h"
#include "sbuf.h"
#include "text.h"

#include <errno.h>
#include <stdio.h>

static void copy(char *dst, size_t size, const char *src)
{
	if (!src) {
		dst[0] = '\0';
		return;
	}
	snprintf(dst, size, "%s", src);
}

int error_set(struct error *err, int code, const char *file, int line,
	      const char *field, const char *fmt, ...)
{
	va_list ap;

	if (!err || err->code)
		return code;
	err->code = code;
	err->line = line;
	err->column = 0;
	copy(err->file, sizeof(err->file), file);
	copy(err->field, sizeof(err->field), field);
	err->hint[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

int error_errno(struct error *err, const char *file, const char *fmt, ...)
{
	int saved = errno;
	size_t len;
	va_list ap;

	if (!err || err->code)
		return ERR_FAIL;
	error_set(err, ERR_FAIL, file, 0, NULL, "%s", "");
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	len = strlen(err->msg);
	snprintf(err->msg + len, sizeof(err->msg) - len, ": %s",
		 strerror(saved));
	errno = saved;
	return ERR_FAIL;
}

void error_hint(struct error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err || err->hint[0])
		return;
	va_start(ap, fmt);
	vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
	va_end(ap);
}

void error_set_column(struct error *err, int column)
{
	if (err)
		err->column = column;
}

void error_clear(struct error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

void error_format(const struct error *err, struct sbuf *out)
{
	if (err->file[0]) {
		sbuf_addstr(out, err->file);
		if (err->line)
			sbuf_addf(out, ":%d", err->line);
		if (err->column)
			sbuf_addf(out, ":%d", err->column);
		sbuf_addstr(out, ": ");
	}
	if (err->field[0])
		sbuf_addf(out, "%s: ", err->field);
	sbuf_addstr(out, err->msg);
}

/*
 * The message is escaped as a whole (text.h): whatever a file or another
 * process put into it cannot reach the terminal as a control sequence.
 */
static void __attribute__((format(printf, 2, 0)))
vreport(const char *prefix, const char *fmt, va_list ap)
{
	struct sbuf msg = SBUF_INIT, shown = SBUF_INIT;

	sbuf_vaddf(&msg, fmt, ap);
	text_add_printable(&shown, msg.buf, msg.len, 0);
	fprintf(stderr, "%s%s\n", prefix, shown.buf);
	sbuf_release(&msg);
	sbuf_release(&shown);
}

void warning(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("warning: ", fmt, ap);
	va_end(ap);
}

void warning_error(const struct error *e, const char *then)
{
	struct sbuf line = SBUF_INIT;

	error_format(e, &line);
	if (then)
		warning("%s; %s", line.buf, then);
	else
		warning("%s", line.buf);
	sbuf_release(&line);
}

void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("note: ", fmt, ap);
	va_end(ap);
}

void hint(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("hint: ", fmt, ap);
	va_end(ap);
}
