"""Planning with the V-JEPA 2-AC world model: batched torch poses, the world-model facade and fast CEM MPC.

ROS-free use (closed-loop evaluation, demos)::

    world_model = WorldModel(load_ac_predictor(ckpt), load_encoder(ckpt, key="encoder"),
                             WorldModelConfig(device="cuda", autocast_dtype=torch.bfloat16))
    controller = MPCController(world_model, MPCConfig(cem=CEMConfig(), context_steps=1, seed=0))
    controller.set_goal(world_model.encode_images(goal_rgb[None])[0])        # uint8 [H, W, 3] -> [N, D]
    decision = controller.step(world_model.encode_images(rgb[None])[0], state)  # state [7] -> MPCStep
    robot.move_to(decision.target_state)                                     # [x, y, z, roll, pitch, yaw, gripper]

Modules: `poses` (batched compute_new_pose / poses_to_diffs), `cem` (CEMPlanner, CEMConfig, CEMResult),
`world_model` (WorldModel, PlanningContext, energies), `pose_prior` (PoseProbe, GoalPositionPrior: a pull towards the
goal image's decoded flange position), `mpc` (MPCController: history, warm start, seeds),
`subgoals` (SubGoalController: a sequence of goals switched by step budget or energy threshold), `oracle`
(StateWorldModel: exact predictions of true states, for tests and benchmarks), `model_check` (a model on
recordings).
"""
