/* imgpatch FILE FIELD VALUE: rewrites one header field of an image file
 * (version, arch, page_size, kind) and fixes the header checksum, so that
 * tests can make images that are well-formed but from elsewhere. */
#include "image.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: imgpatch FILE version|arch|page_size|kind VALUE\n");
		return 2;
	}
	int fd = open(argv[1], O_RDWR);
	char page[ZAP_IMG_PAGE];
	if (fd < 0 || pread(fd, page, sizeof(page), 0) != (ssize_t)sizeof(page)) {
		perror(argv[1]);
		return 1;
	}
	struct zap_img_header *h = (struct zap_img_header *)page;
	uint32_t v = (uint32_t)strtoul(argv[3], NULL, 0);
	if (!strcmp(argv[2], "version"))
		h->version = v;
	else if (!strcmp(argv[2], "arch"))
		h->arch = v;
	else if (!strcmp(argv[2], "page_size"))
		h->page_size = v;
	else if (!strcmp(argv[2], "kind"))
		h->kind = v;
	else
		return fprintf(stderr, "unknown field %s\n", argv[2]), 2;
	h->header_sum = zap_img_header_sum(h, (const struct zap_img_section *)(page + h->sect_off), h->nsect);
	if (pwrite(fd, page, sizeof(page), 0) != (ssize_t)sizeof(page)) {
		perror("pwrite");
		return 1;
	}
	close(fd);
	return 0;
}
