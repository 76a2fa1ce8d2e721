/*
 * The bundled mbedTLS's only entropy source (MBEDTLS_ENTROPY_HARDWARE_ALT,
 * see mbedtls_config.h): the getrandom system call, made directly so that
 * it works with any libc and on glibc before 2.25, and /dev/urandom on a
 * kernel without it (before 3.17).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <unistd.h>
#include <sys/syscall.h>

int mbedtls_hardware_poll(void *data, unsigned char *out, size_t len, size_t *olen);

static int urandom(unsigned char *out, size_t len, size_t *olen)
{
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	do
		n = read(fd, out, len);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return -1;
	*olen = (size_t)n;
	return 0;
}

int mbedtls_hardware_poll(void *data, unsigned char *out, size_t len, size_t *olen)
{
	int saved = errno;
	long n;

	(void)data;
	*olen = 0;
	do
		n = syscall(SYS_getrandom, out, len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == ENOSYS && urandom(out, len, olen) == 0)
		n = (long)*olen;
	errno = saved;
	if (n < 0)
		return -1;   /* mbedTLS: the source failed */
	*olen = (size_t)n;
	return 0;
}
