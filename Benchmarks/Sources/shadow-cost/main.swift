// What the shadow rules cost per write, in process: one comparison as the
// shadow worker makes it (RuleDiff of the shadow set run on the request against
// the live output kept when it was written), beside the shadow chain alone
// (RuleSet.apply), which is the least a comparison can cost. Run it under
// callgrind with 3 rounds and with 1: the difference is two rounds of the loop.
//
//   swift run -c release shadow-cost LIVE_DIR SHADOW_DIR LINES.jsonl chain|compare [rounds]
import Foundation
import OnceEngine

let arguments = CommandLine.arguments
guard arguments.count >= 5, ["chain", "compare"].contains(arguments[4]) else {
    FileHandle.standardError.write(Data("usage: shadow-cost LIVE_DIR SHADOW_DIR LINES.jsonl chain|compare [rounds]\n".utf8))
    exit(2)
}
let live = try RuleRuntime(directory: arguments[1])
let shadow = try RuleRuntime(directory: arguments[2])
let rounds = arguments.count > 5 ? Int(arguments[5])! : 10
let requests = try String(contentsOfFile: arguments[3], encoding: .utf8).split(separator: "\n").map {
    try JSONLine.request(from: Array($0.utf8))
}
// What the live rules made of each request when it was written (no tasks: valgrind fails on them).
let prepared = try requests.map { try Engine.prepare($0, under: live.current, types: [:]) }

var counted = 0, differing = 0
for _ in 0..<rounds {
    if arguments[4] == "chain" {
        for request in requests { counted &+= try shadow.current.apply(to: request).count }
    } else {
        for (request, live) in zip(requests, prepared) {
            differing &+= RuleDiff.differences(in: request, old: live, new: shadow, types: [:]).isEmpty ? 0 : 1
            counted &+= 1
        }
    }
}
precondition(counted == rounds * requests.count)
print("\(counted) requests, \(differing) with differences")
