// The listening socket's backlog: Debian's compiled cpp-httplib listens with a backlog of 5,
// so clients connecting together past that lost their SYN and retried a second later (a 1 s
// first token in serve_bench). Server::bind() listens again with kListenBacklog. Before the
// accept loop runs, the kernel completes as many handshakes as the backlog allows: 64 clients
// connecting at once must all be connected.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include "apps/server/server.h"
#include "tests/test_util.h"

using namespace smolvk;

TEST(ServeBacklog, SixtyFourClientsConnectingAtOnceAreAllQueued) {
  serve::ServerOptions o;
  o.port = 0;
  o.model_dir = test::data_dir() / "smolvlm_f32_s3";
  serve::Server server(o);
  const int port = server.bind();
  ASSERT_GT(port, 0);

  constexpr int kClients = 64;
  static_assert(kClients < serve::kListenBacklog);
  std::vector<int> fds;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < kClients; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
    ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);  // EINPROGRESS
  }
  // Nobody accepts yet: a connection is established once it sits in the accept queue.
  int connected = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  std::vector<bool> done(fds.size(), false);
  while (connected < kClients && std::chrono::steady_clock::now() < deadline) {
    for (size_t i = 0; i < fds.size(); ++i) {
      if (done[i]) continue;
      pollfd p{fds[i], POLLOUT, 0};
      if (::poll(&p, 1, 0) == 1 && (p.revents & POLLOUT)) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &err, &len);
        EXPECT_EQ(err, 0);
        done[i] = true;
        ++connected;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(connected, kClients) << "with a backlog of 5 about 6 connect and the rest wait out a SYN retransmit";
  for (int fd : fds) ::close(fd);
  // The server never serves: its destructor stops it (the listening socket goes with the
  // test process).
}
