// The virtual board's clock and UART line, around the Verilated top `vboard` (sim/board_top.py).
//
//   vboard DIVISOR TIMEOUT
//
// stdin, records from the server (sim/board.py):  op u8 | n u32 LE | n bytes
//   'B'  n bytes to send into the board's rx pin (8N1, DIVISOR cycles per bit)
//   'D'  drain: report 'Q' once the board is quiet (see below)
//   'X'  exit
// stdout, records to the server:  op u8 | n u32 LE | cycle u64 LE | n bytes
//   'T'  n bytes the board sent on its tx pin (cycle: the last one's stop bit)
//   'R'  every byte sent so far is in (cycle: the last one's stop bit ended)
//   'Q'  the board is quiet: no byte pending in either direction, `busy` low and the line
//        silent for TIMEOUT + 16 cycles (a half-received frame has been dropped)
//   'F'  a framing error on tx (a stop bit read as 0): a bug in the board
//
// The clock runs while anything can change; once the board is quiet it stops until the
// next record arrives (nothing in the board changes while it is quiet and its line idle).
#include "Vvboard.h"
#include "verilated.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <vector>

static void write_all(const uint8_t* p, size_t n) {
    while (n) {
        ssize_t k = write(1, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            std::exit(0);  // the server went away
        }
        p += k;
        n -= (size_t)k;
    }
}

static void emit(char op, uint64_t cycle, const uint8_t* data, uint32_t n) {
    uint8_t hdr[13];
    hdr[0] = (uint8_t)op;
    std::memcpy(hdr + 1, &n, 4);
    std::memcpy(hdr + 5, &cycle, 8);
    write_all(hdr, 13);
    if (n) write_all(data, n);
}

struct Input {
    std::vector<uint8_t> buf;
    std::deque<uint8_t> rx;  // bytes waiting for the line
    bool drain = false, quit = false;

    // Read what is there (wait up to `wait_ms`, -1: forever); false at end of input.
    bool pump(int wait_ms) {
        struct pollfd p = {0, POLLIN, 0};
        int r = poll(&p, 1, wait_ms);
        if (r <= 0) return true;
        uint8_t tmp[65536];
        ssize_t k = read(0, tmp, sizeof tmp);
        if (k == 0) return false;
        if (k < 0) return errno == EINTR || errno == EAGAIN;
        buf.insert(buf.end(), tmp, tmp + k);
        size_t at = 0;
        while (buf.size() - at >= 5) {
            uint32_t n;
            std::memcpy(&n, &buf[at + 1], 4);
            if (buf.size() - at < 5 + (size_t)n) break;
            char op = (char)buf[at];
            if (op == 'B') rx.insert(rx.end(), buf.begin() + at + 5, buf.begin() + at + 5 + n);
            else if (op == 'D') drain = true;
            else if (op == 'X') quit = true;
            at += 5 + n;
        }
        buf.erase(buf.begin(), buf.begin() + at);
        return true;
    }
};

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: vboard DIVISOR TIMEOUT\n");
        return 2;
    }
    const int div = std::atoi(argv[1]);
    const uint64_t quiet_after = (uint64_t)std::atoll(argv[2]) + 16;
    Verilated::commandArgs(1, argv);
    Vvboard top;
    uint64_t cycle = 0;
    auto tick = [&]() {
        top.clk = 0;
        top.eval();
        top.clk = 1;
        top.eval();
        ++cycle;
    };
    top.rx = 1;
    for (int i = 0; i < 4; ++i) tick();   // registers start at their initial values

    Input in;
    int rx_bit = -1, rx_timer = 0;          // rx: bit being sent (-1: line idle)
    uint32_t rx_frame = 0;                  // start bit, 8 data bits, stop bit
    uint64_t rx_idle_since = cycle;
    int tx_bit = -1, tx_timer = 0;          // tx decoder (-1: waiting for a start bit)
    uint8_t tx_byte = 0;
    std::vector<uint8_t> tx_out;

    while (!in.quit) {
        bool quiet = in.rx.empty() && rx_bit < 0 && tx_bit < 0 && !top.busy &&
                     cycle - rx_idle_since >= quiet_after;
        if (quiet) {
            if (in.drain) {
                emit('Q', cycle, nullptr, 0);
                in.drain = false;
            }
            if (!in.pump(-1)) break;
            continue;
        }
        if ((cycle & 255) == 0 && !in.pump(0)) break;
        if (rx_bit < 0 && !in.rx.empty()) {
            rx_frame = ((uint32_t)in.rx.front() << 1) | 0x200u;
            in.rx.pop_front();
            rx_bit = 0;
            rx_timer = div;
        }
        top.rx = rx_bit < 0 ? 1 : (rx_frame >> rx_bit) & 1;
        tick();
        if (rx_bit >= 0 && --rx_timer == 0) {
            rx_timer = div;
            if (++rx_bit == 10) {
                rx_bit = -1;
                rx_idle_since = cycle;
                if (in.rx.empty()) emit('R', cycle, nullptr, 0);
            }
        }
        if (tx_bit < 0) {
            if (!top.tx) {
                tx_bit = 0;
                tx_timer = div + div / 2;   // the middle of data bit 0
                tx_byte = 0;
            }
        } else if (--tx_timer == 0) {
            tx_timer = div;
            if (tx_bit < 8) {
                tx_byte |= (uint8_t)((top.tx & 1) << tx_bit);
                ++tx_bit;
            } else {
                if (!top.tx) emit('F', cycle, nullptr, 0);
                emit('T', cycle, &tx_byte, 1);
                tx_bit = -1;
            }
        }
    }
    top.final();
    return 0;
}
