/*
 * Calls glibc's fortified entry points the way a program built with
 * _FORTIFY_SOURCE does: `fortify ok` reads within the buffer's bound and
 * prints what each call returned; `fortify overflow` asks for more than the
 * buffer holds, which glibc answers by aborting the program.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
		       struct sockaddr *addr, socklen_t *alen);

int main(int argc, char **argv)
{
	int overflow = argc > 1 && !strcmp(argv[1], "overflow");
	size_t n = overflow ? 16 : 4;
	char buf[4];
	int sv[2], fd = open("/dev/zero", O_RDONLY);

	if (fd < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 2;
	if (write(sv[1], "abcdefgh", 8) != 8)
		return 2;
	printf("read_chk %zd\n", __read_chk(fd, buf, n, sizeof buf));
	printf("recv_chk %zd %.4s\n", __recv_chk(sv[0], buf, 4, sizeof buf, 0), buf);
	printf("recvfrom_chk %zd %.4s\n",
	       __recvfrom_chk(sv[0], buf, 4, sizeof buf, 0, NULL, NULL), buf);
	return 0;
}
