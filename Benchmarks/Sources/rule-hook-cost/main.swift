// Per-property cost of a rule's property hook inside the engine's rule chain
// (sandbox, budgets, value conversion, chain bookkeeping included).
//
//   swift run -c release rule-hook-cost RULE.lua CALLS
// prints nanoseconds per property.
import Foundation
import OnceEngine

let arguments = CommandLine.arguments
guard arguments.count == 3, let calls = Int(arguments[2]) else {
    FileHandle.standardError.write(Data("usage: rule-hook-cost RULE.lua CALLS\n".utf8))
    exit(2)
}
let source = try String(contentsOfFile: arguments[1], encoding: .utf8)
let rules = try RuleSet(sources: [RuleSource(file: (arguments[1] as NSString).lastPathComponent, source: source)])

let values = [" Cohort 2024 Q1 ", "cohort_a", "COHORT_B", "cohort c"]
let perRequest = 100
let properties = JSONObject((0..<perRequest).map { .init("cohort_\($0)", .string(values[$0 & 3])) })
let request = WriteRequest(namespace: Namespace(workspace: "FY12345678", version: .live), elements: [
    Element(distinctID: "user-1", ops: [OpInput(op: .setOnce, properties: properties)]),
])

let requests = max(1, calls / perRequest)
var sink = 0
_ = try rules.apply(to: request)  // warm the pool
let start = DispatchTime.now().uptimeNanoseconds
for _ in 0..<requests {
    sink &+= try rules.apply(to: request)[0][0].count
}
let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start)
precondition(sink == requests * perRequest)
print(String(format: "%.1f", elapsed / Double(requests * perRequest)))
