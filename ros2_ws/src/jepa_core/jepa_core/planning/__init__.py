"""Planning with the V-JEPA 2-AC world model: batched torch poses, the world-model facade and fast CEM MPC.

ROS-free use (closed-loop evaluation, demos)::

    spec = WorldModelSpec(predictor_checkpoint=ckpt, encoder_key="encoder",
                          config=WorldModelConfig(device="cuda", autocast_dtype=torch.bfloat16))
    world_model = build_world_model(spec)  # predictor, encoder and the checkpoint's goal prior
    controller = MPCController(world_model, MPCConfig(cem=CEMConfig(), context_steps=1, seed=0))
    controller.set_goal(world_model.encode_images(goal_rgb[None])[0])        # uint8 [H, W, 3] -> [N, D]
    decision = controller.step(world_model.encode_images(rgb[None])[0], state)  # state [7] -> MPCStep
    robot.move_to(decision.target_state)                                     # [x, y, z, roll, pitch, yaw, gripper]

Modules: `poses` (batched compute_new_pose / poses_to_diffs), `cem` (CEMPlanner, CEMConfig, CEMResult),
`world_model` (WorldModel, PlanningContext, energies), `pose_prior` (PoseProbe, GoalPositionPrior: a pull towards the
goal image's decoded flange position), `mpc` (MPCController: history, warm start, seeds),
`loading` (WorldModelSpec, build_world_model: the one loader of checkpoints, encoder and goal prior),
`subgoals` (SubGoalController: a sequence of goals switched by step budget or energy threshold), `oracle`
(StateWorldModel: exact predictions of true states, for tests and benchmarks), `model_check` (a model on
recordings).
"""
