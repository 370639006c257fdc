(* OCaml/Lwt half of the side-by-side promise benchmark (see ../run).

   Usage: bench_lwt CASE [COUNT]
   Prints exactly one line:  ns_per_op=X bytes=Y
   (bytes=0 for cases that only measure time).

   Each case is written the way an ordinary Lwt user would write it; nothing
   is tuned for the benchmark.  Set-up that is not part of the measured
   operation (e.g. allocating the array that holds the resolvers) happens
   before the clock starts, and a full major collection runs first so that
   every case starts from a clean heap. *)

let now () = Unix.gettimeofday ()

(* Runs [f] once and returns the elapsed time in nanoseconds per operation. *)
let time_per_op n f =
  Gc.full_major ();
  let t0 = now () in
  f ();
  let t1 = now () in
  (t1 -. t0) *. 1e9 /. float_of_int n

let check_resolved what p =
  match Lwt.state p with
  | Lwt.Return _ -> ()
  | Lwt.Fail e -> failwith (what ^ ": failed: " ^ Printexc.to_string e)
  | Lwt.Sleep -> failwith (what ^ ": still pending")

let cont () = Lwt.return ()

(* 1. Bind on an already resolved promise.  [Lwt.return ()] builds a fresh
   fulfilled promise each iteration (as the C side creates a resolved
   promise), and [Lwt.bind] runs the callback immediately.  The result is
   passed through [Sys.opaque_identity] so the work cannot be dropped. *)
let bind_resolved n =
  time_per_op n (fun () ->
      for _ = 1 to n do
        let p = Lwt.bind (Lwt.return ()) cont in
        ignore (Sys.opaque_identity p)
      done)

(* A placeholder used to pre-size arrays outside the timed region. *)
let dummy_resolver () = snd (Lwt.wait ())

(* 2. Create n pending promises, attach one bind callback to each while all
   are pending, then fulfil them all.  Timed: create + bind + wakeup. *)
let wait_bind_wakeup n =
  let resolvers = Array.make n (dummy_resolver ()) in
  let results = Array.make n Lwt.return_unit in
  let ns =
    time_per_op n (fun () ->
        for i = 0 to n - 1 do
          let p, r = Lwt.wait () in
          results.(i) <- Lwt.bind p cont;
          resolvers.(i) <- r
        done;
        Array.iter (fun r -> Lwt.wakeup r ()) resolvers)
  in
  Array.iter (check_resolved "wait_bind_wakeup") results;
  ns

(* 3. Lwt.join over n pending promises, then fulfil them all.  Timed:
   create + join + wakeup. *)
let join n =
  let resolvers = Array.make n (dummy_resolver ()) in
  let joined = ref Lwt.return_unit in
  let ns =
    time_per_op n (fun () ->
        let rec build i acc =
          if i < 0 then acc
          else begin
            let p, r = Lwt.wait () in
            resolvers.(i) <- r;
            build (i - 1) (p :: acc)
          end
        in
        joined := Lwt.join (build (n - 1) []);
        Array.iter (fun r -> Lwt.wakeup r ()) resolvers)
  in
  check_resolved "join" !joined;
  ns

(* 4. Two fresh pending promises, Lwt.choose over them, fulfil one. *)
let choose n =
  time_per_op n (fun () ->
      for _ = 1 to n do
        let p1, r1 = Lwt.wait () in
        let p2, _r2 = Lwt.wait () in
        let c = Lwt.choose [p1; p2] in
        Lwt.wakeup r1 ();
        check_resolved "choose" c
      done)

(* 5. Same with Lwt.pick, which cancels the loser; cancellation only works
   on promises made by Lwt.task, so both are tasks. *)
let pick n =
  time_per_op n (fun () ->
      for _ = 1 to n do
        let p1, r1 = Lwt.task () in
        let p2, _r2 = Lwt.task () in
        let c = Lwt.pick [p1; p2] in
        Lwt.wakeup r1 ();
        check_resolved "pick" c;
        if Lwt.is_sleeping p2 then failwith "pick: loser not cancelled"
      done)

(* 6. Two Lwt threads ping-ponging over two mvars; one op = one round trip. *)
let mvar n =
  let open Lwt.Syntax in
  let ping = Lwt_mvar.create_empty () in
  let pong = Lwt_mvar.create_empty () in
  let rec client i =
    if i = 0 then Lwt.return_unit
    else
      let* () = Lwt_mvar.put ping i in
      let* j = Lwt_mvar.take pong in
      if j <> i then failwith "mvar: wrong value";
      client (i - 1)
  in
  let rec server i =
    if i = 0 then Lwt.return_unit
    else
      let* v = Lwt_mvar.take ping in
      let* () = Lwt_mvar.put pong v in
      server (i - 1)
  in
  time_per_op n (fun () -> Lwt_main.run (Lwt.join [server n; client n]))

(* 7. Memory held by one pending promise with one bind callback attached.
   The holding array is allocated before the first measurement so it is not
   counted; the promises stay reachable through it until after the second
   measurement. *)
let bytes_per_pending n =
  let held = Array.make n Lwt.return_unit in
  let live_words () = Gc.full_major (); (Gc.stat ()).Gc.live_words in
  let before = live_words () in
  for i = 0 to n - 1 do
    let p, _r = Lwt.wait () in
    ignore (Lwt.bind p cont);
    held.(i) <- p
  done;
  let after = live_words () in
  Array.iter (fun p -> if not (Lwt.is_sleeping p) then failwith "bytes: resolved") held;
  ignore (Sys.opaque_identity held);
  float_of_int ((after - before) * (Sys.word_size / 8)) /. float_of_int n

let () =
  let usage () =
    prerr_endline
      "usage: bench_lwt {bind_resolved|wait_bind_wakeup|join|choose|pick|mvar|bytes_per_pending} [COUNT]";
    exit 2
  in
  if Array.length Sys.argv < 2 then usage ();
  let case = Sys.argv.(1) in
  let default = if case = "bind_resolved" then 10_000_000 else 1_000_000 in
  let n =
    if Array.length Sys.argv > 2 then
      match int_of_string_opt Sys.argv.(2) with
      | Some n when n > 0 -> n
      | _ -> usage ()
    else default
  in
  let ns, bytes =
    match case with
    | "bind_resolved" -> bind_resolved n, 0.
    | "wait_bind_wakeup" -> wait_bind_wakeup n, 0.
    | "join" -> join n, 0.
    | "choose" -> choose n, 0.
    | "pick" -> pick n, 0.
    | "mvar" -> mvar n, 0.
    | "bytes_per_pending" -> 0., bytes_per_pending n
    | _ -> usage ()
  in
  Printf.printf "ns_per_op=%.2f bytes=%.2f\n" ns bytes
