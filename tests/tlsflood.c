/* tlsflood: a TLS client that makes the server send without end and
 * never reads (for tls.sh). It connects to 127.0.0.1:PORT, sends PING,
 * then asks for TLS 1.3 key updates N times: each makes the server answer
 * with a key update of its own. Prints how many it sent before the
 * server closed the connection (or N). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: tlsflood PORT N\n");
        return 2;
    }
    long n = atol(argv[2]), i = 0;
    SSL_CTX *x = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(x, TLS1_3_VERSION);
    int s = socket(AF_INET, SOCK_STREAM, 0), small = 4096;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(argv[1]));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("connect");
        return 1;
    }
    SSL *ssl = SSL_new(x);
    SSL_set_fd(ssl, s);
    if (SSL_connect(ssl) != 1) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    char buf[64];
    SSL_write(ssl, "PING\r\n", 6);
    SSL_read(ssl, buf, sizeof buf);
    for (; i < n; i++)
        if (SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED) != 1 || SSL_do_handshake(ssl) != 1)
            break;
    printf("%ld\n", i);
    SSL_free(ssl);
    SSL_CTX_free(x);
    close(s);
    return 0;
}
