import Foundation
import OnceFuzz

// onced-fuzz TARGET [ARGS...]
//
// Built by scripts/fuzz (with -DFUZZING and libFuzzer's coverage flags): hands
// ARGS to libFuzzer, which runs TARGET until a crash or its time limit.
// In a plain build: runs TARGET once on each file named in ARGS — how a crash
// a fuzzer found is replayed under a debugger.

typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

#if FUZZING
/// libFuzzer's entry point for programs that keep their own `main`.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: FuzzCallback) -> CInt
#endif

nonisolated(unsafe) var selected = FuzzTarget.jsonBody

let arguments = CommandLine.arguments
guard arguments.count >= 2, let target = FuzzTarget(rawValue: arguments[1]) else {
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
    FileHandle.standardError.write(Data("usage: onced-fuzz \(names) [libFuzzer options or input files]\n".utf8))
    exit(2)
}
selected = target

#if FUZZING
// libFuzzer sees the program name followed by everything after TARGET.
var argc = CommandLine.argc - 1
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
argv![1] = argv![0]
argv = argv! + 1
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
    selected.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
})
#else
for path in arguments.dropFirst(2) {
    guard let data = FileManager.default.contents(atPath: path) else {
        FileHandle.standardError.write(Data("cannot read \(path)\n".utf8))
        exit(1)
    }
    target.run([UInt8](data))
    print("\(path): ok")
}
#endif
