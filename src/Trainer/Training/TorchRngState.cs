using System.Buffers.Binary;

namespace EdgeShortcut.Trainer.Training;

/// <summary>
/// Checks a torch CPU generator state before it reaches libtorch, whose <c>set_rng_state</c> aborts the
/// whole process (an uncatchable <c>c10::Error</c>) on a state it rejects. The state is libtorch's
/// <c>CPUGeneratorImplState</c> (aten/src/ATen/CPUGeneratorImpl.cpp): a legacy POD
/// <c>{u64 seed; i32 left; i32 seeded; u64 next; u64 state[624]; f64 normal_x, normal_y, normal_rho; i32 normal_is_valid}</c>
/// followed by <c>{f32 next_float_normal_sample; bool is_next_float_normal_sample}</c>, 5056 bytes with
/// padding. libtorch accepts it when the size matches and the mt19937 fields are valid
/// (<c>seeded</c>, <c>1 &lt;= left &lt;= 624</c>, <c>next &lt;= 624</c>).
/// </summary>
internal static class TorchRngState
{
    /// <summary>Size in bytes of the state <c>torch.get_rng_state()</c> returns.</summary>
    public const int Size = 5056;
    private const int MersenneStateN = 624;
    private const int LeftOffset = 8, SeededOffset = 12, NextOffset = 16;

    /// <summary>What is wrong with <paramref name="state"/>, or null when libtorch will accept it.</summary>
    public static string? Problem(ReadOnlySpan<byte> state)
    {
        if (state.Length != Size) return $"has {state.Length} bytes, a torch CPU generator state has {Size}";
        int left = BinaryPrimitives.ReadInt32LittleEndian(state[LeftOffset..]);
        int seeded = BinaryPrimitives.ReadInt32LittleEndian(state[SeededOffset..]);
        ulong next = BinaryPrimitives.ReadUInt64LittleEndian(state[NextOffset..]);
        if (seeded == 0) return "is not seeded (mt19937 'seeded' is 0)";
        if (left is < 1 or > MersenneStateN) return $"has mt19937 'left' = {left}, outside 1..{MersenneStateN}";
        if (next > MersenneStateN) return $"has mt19937 'next' = {next}, above {MersenneStateN}";
        return null;
    }
}
