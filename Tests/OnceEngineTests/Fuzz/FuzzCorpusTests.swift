import Foundation
import OnceFuzz
import Testing

/// Replays the fuzzing corpus and every crash the fuzzer ever found through
/// the same entry points `scripts/fuzz` drives: a fixed crash stays fixed.
@Suite struct FuzzCorpusTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../Fuzz").standardizedFileURL

    static func inputs(of target: FuzzTarget) -> [URL] {
        ["corpus", "regressions"].flatMap { folder in
            let directory = root.appendingPathComponent(folder).appendingPathComponent(target.rawValue)
            return ((try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)) ?? [])
                .filter { !$0.lastPathComponent.hasPrefix(".") }
        }
    }

    @Test(arguments: FuzzTarget.allCases)
    func corpusReplays(target: FuzzTarget) throws {
        let inputs = Self.inputs(of: target)
        #expect(inputs.count >= 5, "the committed corpus of \(target.rawValue) is missing")
        for input in inputs {
            target.run([UInt8](try Data(contentsOf: input)))
        }
    }
}
