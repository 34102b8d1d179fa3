// The rule chain alone, in process: RuleSet.apply over decoded requests, no
// decoding, validation, store or output around it — the part of `run.sh rules`'
// dry-run difference that is the chain's own, measured without the noise of a
// whole process. Prints the best round's thread CPU per property.
//
//   swift run -c release rule-chain RULES_DIR LINES.jsonl [rounds]
import Foundation
import OnceEngine

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: rule-chain RULES_DIR LINES.jsonl [rounds]\n".utf8))
    exit(2)
}
let rules = try RuleSet(directory: arguments[1])
let rounds = arguments.count > 3 ? Int(arguments[3])! : 10
let requests = try String(contentsOfFile: arguments[2], encoding: .utf8).split(separator: "\n").map {
    try JSONLine.request(from: Array($0.utf8))
}
let properties = requests.reduce(0) { total, request in
    total + request.elements.reduce(0) { $0 + $1.ops.reduce(0) { $0 + $1.properties.members.count } }
}

func threadCPUNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

var best = Int64.max
var kept = 0
for _ in 0..<rounds {
    let started = threadCPUNanoseconds()
    for request in requests {
        kept &+= try rules.apply(to: request).count
    }
    best = min(best, threadCPUNanoseconds() - started)
}
precondition(kept == rounds * requests.count)
print(String(format: "%.1f", Double(best) / Double(properties)))
