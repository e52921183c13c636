"""UART: divisor arithmetic and a tx -> rx loopback in amaranth.sim."""

import pytest
from amaranth import Module
from amaranth.sim import Simulator

from hdl.uart import UARTRx, UARTTx, uart_divisor


def test_divisor():
    assert uart_divisor(100e6, 115_200) == 868
    assert uart_divisor(12e6, 115_200) == 104
    assert uart_divisor(25e6, 1_000_000) == 25
    with pytest.raises(ValueError, match="too fast"):
        uart_divisor(1e6, 1_000_000)
    with pytest.raises(ValueError, match="error"):
        uart_divisor(10e6, 1_900_000)     # divisor 5 -> 5.3 % off
    with pytest.raises(ValueError, match="divisor"):
        UARTTx(divisor=2)


@pytest.mark.parametrize("divisor", [4, 7])
def test_loopback(divisor):
    m = Module()
    m.submodules.tx = tx = UARTTx(divisor=divisor)
    m.submodules.rx = rx = UARTRx(divisor=divisor)
    m.d.comb += rx.rx.eq(tx.tx)
    data = [0x00, 0xFF, 0xA5, 0x5A, 0x01, 0x80, 0x3C]
    got = []

    async def send(ctx):
        for i, byte in enumerate(data):
            ctx.set(tx.i_data.payload, byte)
            ctx.set(tx.i_data.valid, 1)
            await ctx.tick().until(tx.i_data.ready)
            ctx.set(tx.i_data.valid, 0)
            if i == 3:
                await ctx.tick().repeat(3 * divisor)    # an idle gap between bytes

    async def receive(ctx):
        ctx.set(rx.o_data.ready, 1)
        while len(got) < len(data):
            await ctx.tick()
            if ctx.get(rx.o_data.valid):
                got.append(ctx.get(rx.o_data.payload))
            assert not ctx.get(rx.frame_error)

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(send)
    sim.add_testbench(receive)
    sim.run_until(1e-6 * divisor * 10 * (len(data) + 6))
    assert got == data


def test_rx_frame_error():
    """A stop bit read as 0 is reported and the byte dropped."""
    rx = UARTRx(divisor=4)
    flags = []

    async def bench(ctx):
        ctx.set(rx.o_data.ready, 1)
        for bit in [0] + [1] * 8 + [0] + [0] * 4 + [1] * 3:
            ctx.set(rx.rx, bit)
            for _ in range(4):
                await ctx.tick()
                flags.append((ctx.get(rx.frame_error), ctx.get(rx.o_data.valid)))

    sim = Simulator(rx)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert any(f for f, _ in flags)
    assert not any(v for _, v in flags)
