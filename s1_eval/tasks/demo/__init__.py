"""The offline demo task: seeded arithmetic word problems that a 135M model can partly solve."""
